import { z } from 'zod';
import { BadInputError } from '../../../contract/errors.js';
import type { TableSchema } from '../options.js';
import { converterFor, Invalid, type FieldType } from './field-types.js';
import { compileUserPattern } from './user-pattern.js';
import { bytesEqual, isIsoDateBytes, isPlainDecimalBytes, isPlainIntegerBytes, plainDecimal, trimmedDecimalEnd } from './byte-values.js';
import { cellText, type RecordFields } from '../read/record-scanner.js';

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
  /** The row check as zod: one field schema per column, in header order. */
  row: z.ZodType<NormalisedRow, string[]>;
  /**
   * Checks one row of raw cells (already of the header's length) and normalises it, or names its first
   * problem. Same result as `row.safeParse`, without zod's per-row allocations (see `compileSchema`).
   */
  check(cells: readonly string[]): NormalisedRow | RowIssue;
  /**
   * Checks a record (of the header's length) from its bytes, as `check` would: -1 if a cell is invalid or
   * not judged (then ask `check`, which names the problem), else how many cells normalisation changes,
   * each one's normal form in `changes[i]` (null: missing), undefined for a cell kept as it is. Fields
   * whose type allows it are judged on the bytes; others decode their cell and run their check. Absent for
   * a schema with a `unique` constraint, whose checks must see each row exactly once.
   */
  checkBytes: ((record: RecordFields, changes: (string | null | undefined)[]) => number) | undefined;
}

/** A field's check as a plain function: the normalised cell, null when missing, or why it fails. */
type FieldCheck = (raw: string) => string | null | Invalid;

export const defaultMissingValues = [''];

/**
 * Compiles a Table Schema once into a zod tuple for the header's column order. Unknown or absent columns
 * are a schema mismatch (BadInputError), so every row check is positional and cheap.
 */
export function compileSchema(schema: TableSchema, header: readonly string[]): CompiledSchema {
  const ordered = fieldsInHeaderOrder(schema, header);
  const missing = new Set(schema.missingValues ?? defaultMissingValues);
  const checks = ordered.map(({ field, index }) => compileField(field, index, missing).check);
  const byteChecks = ordered.map(({ field }, i) => byteCheckOf(field, checks[i]!, missing));
  const checkBytes = (record: RecordFields, changes: (string | null | undefined)[]): number => {
    const { text, starts, ends, quoting } = record;
    let changed = 0;
    for (let i = 0; i < byteChecks.length; i += 1) {
      const result = byteChecks[i]!(text, starts[i]!, ends[i]!, quoting[i]!);
      if (result === true) changes[i] = undefined;
      else if (result === false) return -1;
      else {
        changes[i] = result;
        changed += 1;
      }
    }
    return changed;
  };
  const schemas = checks.map((check) => asZod(check));
  const row = z.tuple(schemas as [z.ZodType<string | null, string>]) as unknown as z.ZodType<NormalisedRow, string[]>;
  // The zod tuple's transforms are these same functions; calling them directly saves zod's per-row result
  // and context objects, the larger part of the check's cost (measured). A failing cell is then parsed by
  // its field's zod schema, which names the issue. Every field is still checked after the first failure,
  // as the tuple does, so `unique` sets see the same values either way.
  const check = (cells: readonly string[]): NormalisedRow | RowIssue => {
    const out: NormalisedRow = new Array<string | null>(cells.length);
    let failed = -1;
    for (let i = 0; i < cells.length; i += 1) {
      const value = checks[i]!(cells[i]!);
      if (value instanceof Invalid) {
        if (failed < 0) failed = i;
      } else out[i] = value;
    }
    if (failed < 0) return out;
    const issue = schemas[failed]!.safeParse(cells[failed]).error?.issues[0];
    return { column: header[failed] ?? null, value: cells[failed] ?? null, error: issue?.message ?? 'invalid value' };
  };
  return { schema: { ...schema, fields: ordered.map((o) => o.field) }, row, check, checkBytes: hasUniqueConstraint(schema) ? undefined : checkBytes };
}

/**
 * A cell as written in the record (`quoting` as RecordFields has it) against its field's check: true if
 * it is valid and normal as it is, its normal form if valid but written otherwise, false if invalid.
 */
type ByteCheck = (text: Buffer, start: number, end: number, quoting: number) => boolean | string | null;

/**
 * A field's ByteCheck. Plain integers and decimals (with minimum and maximum), ISO dates, `true`/`false`
 * and unconstrained strings are judged on the bytes, by the same rules as their converters' own fast
 * paths (byte-values.ts); anything else, or any cell those rules do not settle, is decoded and checked.
 */
function byteCheckOf(field: Field, check: FieldCheck, missing: ReadonlySet<string>): ByteCheck {
  const general: ByteCheck = (text, start, end, quoting) => {
    const raw = cellText(text, start, end, quoting);
    const value = check(raw);
    if (value instanceof Invalid) return false;
    return value === raw || (value === null && raw === '') || value;
  };
  const c = field.constraints ?? {};
  if (!(missing.size === 1 && missing.has('')) || c.pattern !== undefined || c.enum !== undefined || c.unique) return general;
  const required = c.required === true;
  const bounded = c.minimum !== undefined || c.maximum !== undefined;
  switch (field.type) {
    case 'string':
      // A string is its own normal form; only a required one can fail, when empty.
      return (_, start, end, quoting) => !required || end - start > (quoting === 0 ? 0 : 2);
    case 'integer':
    case 'number': {
      const plain = field.type === 'integer' ? isPlainIntegerBytes : isPlainDecimalBytes;
      // As compileField reads them (checkSchema has made sure they are of the type).
      const convert = converterFor(field, 'the field');
      const min = c.minimum === undefined ? -Infinity : Number(convert(String(c.minimum)));
      const max = c.maximum === undefined ? Infinity : Number(convert(String(c.maximum)));
      const inBounds = (text: Buffer, start: number, end: number) => {
        if (!bounded) return true;
        const value = plainDecimal(text, start, end) ?? Number(text.toString('latin1', start, end));
        return value >= min && value <= max;
      };
      return (text, start, end, quoting) => {
        if (quoting === 0 && plain(text, start, end)) return inBounds(text, start, end);
        if (quoting === 0 && field.type === 'number') {
          // The common unnormal number, `12.50`: its normal form is a prefix of it.
          const trimmed = trimmedDecimalEnd(text, start, end);
          if (trimmed >= 0) return inBounds(text, start, trimmed) && text.toString('latin1', start, trimmed);
        }
        return start === end && quoting === 0 ? !required : general(text, start, end, quoting);
      };
    }
    case 'boolean': {
      // What the check makes of the two normal forms themselves (a schema may list them among the other's values).
      const keepsTrue = check('true') === 'true';
      const keepsFalse = check('false') === 'false';
      return (text, start, end, quoting) => {
        if (quoting === 0 && bytesEqual(text, start, end, TRUE)) return keepsTrue;
        if (quoting === 0 && bytesEqual(text, start, end, FALSE)) return keepsFalse;
        return start === end && quoting === 0 ? !required : general(text, start, end, quoting);
      };
    }
    case 'date':
      if (bounded || (field.format && field.format !== 'default' && field.format !== 'any')) return general;
      return (text, start, end, quoting) => (quoting === 0 && isIsoDateBytes(text, start, end)) || (start === end && quoting === 0 ? !required : general(text, start, end, quoting));
    default:
      return general;
  }
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');

/** The schema as applied to a file: its fields in the header's order (CSV_SCHEMA_MISMATCH unless they name the same columns). */
export function schemaInHeaderOrder(schema: TableSchema, header: readonly string[]): TableSchema {
  return { ...schema, fields: fieldsInHeaderOrder(schema, header).map((o) => o.field) };
}

/**
 * The schema's fields in header order, each with its index in the schema (which names it in messages).
 * Messages name positions, never names: a schema read by key is an object whose text is not echoed.
 */
function fieldsInHeaderOrder(schema: TableSchema, header: readonly string[]): { field: Field; index: number }[] {
  const byName = new Map<string, { field: Field; index: number }>();
  schema.fields.forEach((field, index) => {
    const first = byName.get(field.name);
    if (first) throw new BadInputError('CSV_SCHEMA_INVALID', `The schema's fields[${index}] has the same name as fields[${first.index}]. Give every field its own name.`);
    byName.set(field.name, { field, index });
  });
  const inHeader = new Set(header);
  const missingInFile = schema.fields.flatMap((f, i) => (inHeader.has(f.name) ? [] : [`fields[${i}]`]));
  const extraInFile = header.flatMap((h, i) => (byName.has(h) ? [] : [String(i + 1)]));
  if (missingInFile.length > 0 || extraInFile.length > 0) {
    const parts = [
      missingInFile.length ? `the schema's ${positions(missingInFile)} name no column of the file` : '',
      extraInFile.length ? `no field of the schema names the file's column ${positions(extraInFile)} (counting from 1)` : '',
    ].filter(Boolean);
    throw new BadInputError('CSV_SCHEMA_MISMATCH', `The header does not match the schema: ${parts.join('; ')}. Make the header and the schema's fields name the same columns.`);
  }
  return header.map((name) => byName.get(name)!);
}

/** The first few of a list of positions, and how many more: a 2,000-column mismatch stays one line. */
function positions(list: readonly string[]): string {
  const shown = list.slice(0, 10).join(', ');
  return list.length > 10 ? `${shown} and ${list.length - 10} more` : shown;
}

/** The zod schema of one field, whose transform is the field's check: zod stays the definition of a valid cell. */
function asZod(check: FieldCheck): z.ZodType<string | null, string> {
  return z.string().transform((raw, ctx): string | null => {
    const value = check(raw);
    if (!(value instanceof Invalid)) return value;
    ctx.addIssue({ code: 'custom', message: value.error, input: raw });
    return z.NEVER;
  });
}

/** Longest enum list a reject's reason spells out; a longer one is counted instead, so each reject line stays short. */
const enumListChars = 200;

/**
 * One field's check, and the size its pattern compiled to. `index` is the field's place in the schema,
 * which names it in errors (`fields[2]`).
 */
export function compileField(field: Field, index: number, missing: ReadonlySet<string>): { check: FieldCheck; patternSize: number } {
  const where = `fields[${index}]`;
  const convert = converterFor(field, where);
  const c = field.constraints ?? {};
  const checks: ((value: string, raw: string) => string | undefined)[] = [];
  let patternSize = 0;
  if (c.pattern !== undefined) {
    const pattern = compileUserPattern(c.pattern, `${where}.constraints.pattern`);
    patternSize = pattern.size;
    checks.push((_, raw) => (pattern.test(raw) ? undefined : `does not match pattern ${c.pattern}`));
  }
  if (c.enum !== undefined) {
    const allowed = new Set(c.enum.map((e) => normaliseConstraint(field, where, String(e), 'enum')));
    const listed = c.enum.map(String).join(', ');
    const error = listed.length <= enumListChars ? `not one of ${listed}` : `not one of the ${c.enum.length} values the schema's enum allows`;
    checks.push((v) => (allowed.has(v) ? undefined : error));
  }
  const numeric = field.type === 'integer' || field.type === 'number';
  const ordered = numeric || field.type === 'date' || field.type === 'datetime';
  if (ordered && c.minimum !== undefined) {
    const min = normaliseConstraint(field, where, String(c.minimum), 'minimum');
    const minN = Number(min);
    checks.push((v) => ((numeric ? Number(v) < minN : v < min) ? `less than the minimum ${min}` : undefined));
  }
  if (ordered && c.maximum !== undefined) {
    const max = normaliseConstraint(field, where, String(c.maximum), 'maximum');
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
  const requiredMissing = new Invalid('required value is missing');
  const typeSuffix = ` (column type ${field.type})`;
  // The default missing value is only '': a length test, not a Set lookup that hashes every cell.
  const onlyEmptyMissing = missing.size === 1 && missing.has('');
  const check: FieldCheck = (raw) => {
    if (onlyEmptyMissing ? raw.length === 0 : missing.has(raw)) return required ? requiredMissing : null;
    const converted = convert(raw);
    if (converted instanceof Invalid) return new Invalid(converted.error + typeSuffix);
    for (const check of checks) {
      const error = check(converted, raw);
      if (error !== undefined) return new Invalid(error);
    }
    return converted;
  };
  return { check, patternSize };
}

/** A constraint's value in the field's normal form; one that is not of the field's type is a schema error. */
function normaliseConstraint(field: Field, where: string, value: string, what: string): string {
  const converted = converterFor(field, where)(value);
  if (converted instanceof Invalid) {
    const entry = what === 'enum' ? 'an entry of' : 'the';
    throw new BadInputError('CSV_SCHEMA_INVALID', `The schema's ${where}: ${entry} ${what} constraint is not a valid ${field.type}${field.format ? ' in the field\'s format' : ''}. Fix the schema.`);
  }
  return converted;
}

/** A `unique` constraint makes the check keep every value seen: one set, in file order. */
export const hasUniqueConstraint = (schema: TableSchema | undefined) => schema?.fields.some((f) => f.constraints?.unique === true) ?? false;

/** Numeric field types carry mean, std and quantiles in the analysis. */
export const isNumericType = (type: FieldType) => type === 'integer' || type === 'number';

