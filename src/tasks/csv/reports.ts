import { z } from 'zod';
import { ObjectRef } from '../../contract/job.js';
import { TableSchema } from './options.js';

/** validation.json (contract 4): counts, the schema applied or inferred, the error rate. */
export const ValidationReport = z.strictObject({
  input: ObjectRef,
  format: z.strictObject({ gzip: z.boolean(), encoding: z.string(), delimiter: z.string() }),
  rowsRead: z.number().int(),
  rowsValid: z.number().int(),
  rowsRejected: z.number().int(),
  errorRate: z.number(),
  maxErrorRate: z.number(),
  schemaSource: z.enum(['inline', 's3', 'inferred']),
  schemaKey: z.string().optional(),
  schema: TableSchema,
});
export type ValidationReport = z.infer<typeof ValidationReport>;

/** One line of rejects.jsonl; row 1 is the first data row. */
export const RejectLine = z.strictObject({
  row: z.number().int(),
  column: z.string().nullable(),
  value: z.string().nullable(),
  error: z.string(),
});
export type RejectLine = z.infer<typeof RejectLine>;

/** Statistics are null where pandas gives NaN (no values, or std of one value). */
const stat = z.number().nullable();

export const NumericColumnStats = z.strictObject({
  name: z.string(),
  type: z.enum(['integer', 'number']),
  count: z.number().int(),
  missing: z.number().int(),
  mean: stat,
  std: stat,
  min: stat,
  '25%': stat,
  '50%': stat,
  '75%': stat,
  max: stat,
});
export type NumericColumnStats = z.infer<typeof NumericColumnStats>;

export const CategoricalColumnStats = z.strictObject({
  name: z.string(),
  type: z.enum(['string', 'boolean', 'date', 'datetime']),
  count: z.number().int(),
  missing: z.number().int(),
  unique: z.number().int(),
  top: z.string().nullable(),
  freq: z.number().int().nullable(),
});
export type CategoricalColumnStats = z.infer<typeof CategoricalColumnStats>;

/** analysis.json (contract 4): per column, in the order of validated.csv. */
export const AnalysisReport = z.strictObject({
  rows: z.number().int(),
  columns: z.array(z.union([NumericColumnStats, CategoricalColumnStats])),
});
export type AnalysisReport = z.infer<typeof AnalysisReport>;
