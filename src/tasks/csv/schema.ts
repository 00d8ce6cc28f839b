import { z } from 'zod';
import { BadInputError } from '../../errors.js';
import type { TableSchema } from '../../pipeline/messages.js';
import { converterFor, type Conversion, type FieldType } from './field-types.js';

type Field = TableSchema['fields'][number];

/** A data row in header order, each cell normalised, null where the value is missing. */
export type NormalisedRow = (string | null)[];

/** One rejected row, as rejects.jsonl has it (contract 4). */
export interface RowIssue {
  column: string | null;
  value: string | null;
  error: string;
}

export interface CompiledSchema {
  /** The schema as applied, fields in header order. */
  schema: TableSchema;
  /** Checks one row of raw cells (already of the header's length) and normalises it. */
  row: z.ZodType<NormalisedRow, string[]>;
}

export const defaultMissingValues = [''];

/**
 * Compiles a Table Schema once into a zod tuple for the header's column order. Unknown or absent columns
 * are a schema mismatch (BadInputError), so every row check is positional and cheap.
 */
export function compileSchema(schema: TableSchema, header: readonly string[]): CompiledSchema {
  const byName = new Map(schema.fields.map((f) => [f.name, f]));
  const missingInFile = schema.fields.filter((f) => !header.includes(f.name)).map((f) => f.name);
  const extraInFile = header.filter((h) => !byName.has(h));
  if (missingInFile.length > 0 || extraInFile.length > 0) {
    const parts = [
      missingInFile.length ? `the schema names ${list(missingInFile)} but the file has no such column` : '',
      extraInFile.length ? `the file has ${list(extraInFile)} which the schema does not name` : '',
    ].filter(Boolean);
    throw new BadInputError('CSV_SCHEMA_MISMATCH', `The header does not match the schema: ${parts.join('; ')}. Make the header and the schema's fields name the same columns.`);
  }
  const missing = new Set(schema.missingValues ?? defaultMissingValues);
  const fields = header.map((name) => byName.get(name) as Field);
  const row = z.tuple(fields.map((f) => fieldSchema(f, missing)) as [z.ZodType<string | null, string>]) as unknown as z.ZodType<NormalisedRow, string[]>;
  return { schema: { ...schema, fields }, row };
}

const list = (names: readonly string[]) => names.map((n) => JSON.stringify(n)).join(', ');

function fieldSchema(field: Field, missing: ReadonlySet<string>): z.ZodType<string | null, string> {
  const convert = converterFor(field);
  const c = field.constraints ?? {};
  const checks: ((value: string, raw: string) => string | undefined)[] = [];
  if (c.pattern !== undefined) {
    const pattern = compilePattern(field.name, c.pattern);
    checks.push((_, raw) => (pattern.test(raw) ? undefined : `does not match pattern ${c.pattern}`));
  }
  if (c.enum !== undefined) {
    const allowed = new Set(c.enum.map((e) => normaliseConstraint(field, String(e), 'enum')));
    checks.push((v) => (allowed.has(v) ? undefined : `not one of ${c.enum?.map(String).join(', ')}`));
  }
  const numeric = field.type === 'integer' || field.type === 'number';
  const ordered = numeric || field.type === 'date' || field.type === 'datetime';
  if (ordered && c.minimum !== undefined) {
    const min = normaliseConstraint(field, String(c.minimum), 'minimum');
    const minN = Number(min);
    checks.push((v) => ((numeric ? Number(v) < minN : v < min) ? `less than the minimum ${min}` : undefined));
  }
  if (ordered && c.maximum !== undefined) {
    const max = normaliseConstraint(field, String(c.maximum), 'maximum');
    const maxN = Number(max);
    checks.push((v) => ((numeric ? Number(v) > maxN : v > max) ? `greater than the maximum ${max}` : undefined));
  }
  if (c.unique) {
    // Held in memory: a unique constraint costs memory in proportion to the column's distinct values.
    const seen = new Set<string>();
    checks.push((v) => {
      if (seen.has(v)) return 'duplicate value in a column whose values must be unique';
      seen.add(v);
      return undefined;
    });
  }
  const required = c.required === true;
  return z.string().transform((raw, ctx): string | null => {
    if (missing.has(raw)) {
      if (!required) return null;
      ctx.addIssue({ code: 'custom', message: 'required value is missing', input: raw });
      return z.NEVER;
    }
    const converted: Conversion = convert(raw);
    if (!converted.ok) {
      ctx.addIssue({ code: 'custom', message: `${converted.error} (column type ${field.type})`, input: raw });
      return z.NEVER;
    }
    for (const check of checks) {
      const error = check(converted.value, raw);
      if (error !== undefined) {
        ctx.addIssue({ code: 'custom', message: error, input: raw });
        return z.NEVER;
      }
    }
    return converted.value;
  });
}

function compilePattern(column: string, pattern: string): RegExp {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u');
  } catch (err) {
    throw new BadInputError('CSV_SCHEMA_INVALID', `The schema's pattern for column ${JSON.stringify(column)} is not a valid regular expression: ${pattern}.`, { cause: err });
  }
}

function normaliseConstraint(field: Field, value: string, what: string): string {
  const converted = converterFor(field)(value);
  if (!converted.ok) {
    throw new BadInputError('CSV_SCHEMA_INVALID', `The schema's ${what} ${JSON.stringify(value)} for column ${JSON.stringify(field.name)} is ${converted.error} (column type ${field.type}). Fix the schema.`);
  }
  return converted.value;
}

/** The first issue of a failed row check, as a reject line names it. */
export function firstIssue(error: z.ZodError, header: readonly string[], cells: readonly string[]): RowIssue {
  const issue = error.issues[0];
  const index = typeof issue?.path[0] === 'number' ? issue.path[0] : -1;
  return { column: header[index] ?? null, value: cells[index] ?? null, error: issue?.message ?? 'invalid row' };
}

/** Numeric field types carry mean, std and quantiles in the analysis. */
export const isNumericType = (type: FieldType) => type === 'integer' || type === 'number';

