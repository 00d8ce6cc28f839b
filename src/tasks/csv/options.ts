import { z } from 'zod';
import type { JobMessage } from '../../contract/job.js';
import { csvEncodings, csvSeparators } from './read/sniff.js';

/**
 * Unknown properties pass through, so they must stay writable: JSON.stringify (the job sent on, validation.json)
 * and structured clone (to a CSV thread) recurse, and a few thousand levels overflow the stack, a crash
 * the job would be retried for. A real schema nests about five levels.
 */
const maxSchemaNesting = 32;
function nestsAtMost(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return true;
  return levels > 0 && Object.values(value).every((v) => nestsAtMost(v, levels - 1));
}

/** Frictionless Table Schema, the subset the contract names. Unknown properties pass through untouched. */
export const TableSchemaField = z.looseObject({
  name: z.string().min(1),
  type: z.enum(['string', 'integer', 'number', 'boolean', 'date', 'datetime']).default('string'),
  format: z.string().optional(),
  constraints: z
    .looseObject({
      required: z.boolean().optional(),
      unique: z.boolean().optional(),
      minimum: z.union([z.number(), z.string()]).optional(),
      maximum: z.union([z.number(), z.string()]).optional(),
      pattern: z.string().optional(),
      enum: z.array(z.union([z.string(), z.number(), z.boolean()])).optional(),
    })
    .optional(),
});
export const TableSchema = z
  .looseObject({
    fields: z.array(TableSchemaField).min(1),
    missingValues: z.array(z.string()).optional(),
  })
  .refine((schema) => nestsAtMost(schema, maxSchemaNesting), `a Table Schema nests at most ${maxSchemaNesting} levels deep`);
export type TableSchema = z.infer<typeof TableSchema>;

/** The `csv` options of a job request (contract section 3). */
export const CsvOptions = z.strictObject({
  schema: TableSchema.optional(),
  schemaKey: z.string().min(1).optional(),
  maxErrorRate: z.number().min(0).max(1).default(0.05),
  /** The dialect, when sniffing cannot tell (docs/csv.md); each is sniffed when absent. */
  delimiter: z.enum(csvSeparators).optional(),
  encoding: z.enum(csvEncodings).optional(),
  skipLines: z.number().int().min(0).max(100).optional(),
});
export type CsvOptions = z.infer<typeof CsvOptions>;

/** The job's CSV options, typed: the stage message was checked against CsvOptions when it was received. */
export const csvOptionsOf = (job: JobMessage): CsvOptions => CsvOptions.parse(job.csv ?? {});
