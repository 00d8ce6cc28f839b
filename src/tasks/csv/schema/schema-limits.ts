import type { z } from 'zod';
import type { Config } from '../../../contract/env.js';
import { BadInputError } from '../../../contract/errors.js';
import type { TableSchema } from '../options.js';
import { compileField, defaultMissingValues } from './schema.js';

/**
 * How large a Table Schema may be (CSV_SCHEMA_* variables): a schema is compiled in every checker thread
 * and held there, so without bounds one document could exhaust a thread's heap or make each value cost
 * seconds.
 */
export interface SchemaLimits {
  /** Bytes of the schema's JSON. */
  maxBytes: number;
  /** Fields. */
  maxFields: number;
  /** Enum entries, all fields together. */
  maxEnumValues: number;
  /** Characters of one pattern or date format. */
  maxPatternLength: number;
  /** RE2 instructions all patterns compile to together: what checking a row's characters may cost. */
  maxPatternSize: number;
}

export function schemaLimitsFrom(config: Config): SchemaLimits {
  return {
    maxBytes: config.CSV_SCHEMA_MAX_BYTES,
    maxFields: config.CSV_SCHEMA_MAX_FIELDS,
    maxEnumValues: config.CSV_SCHEMA_MAX_ENUM_VALUES,
    maxPatternLength: config.CSV_SCHEMA_MAX_PATTERN_LENGTH,
    maxPatternSize: config.CSV_SCHEMA_MAX_PATTERN_SIZE,
  };
}

const tooLarge = (what: string, variable: string) =>
  new BadInputError('CSV_SCHEMA_TOO_LARGE', `The schema ${what} (${variable}). A Table Schema is a small document: simplify the schema.`);

/** Refuses a schema document larger than the limit, before it is parsed. */
export function checkSchemaBytes(bytes: number, limits: SchemaLimits): void {
  if (bytes > limits.maxBytes) throw tooLarge(`is larger than ${limits.maxBytes} bytes`, 'CSV_SCHEMA_MAX_BYTES');
}

/**
 * Checks a parsed schema against the limits and compiles every field once, so what a thread will
 * compile is known to fit and a bad pattern, format or constraint is refused before the file is read.
 * Patterns are compiled in order and the check stops at the first one past the budget, so a refused
 * schema costs at most one pattern's compilation over it.
 */
export function checkSchema(schema: TableSchema, limits: SchemaLimits): void {
  if (schema.fields.length > limits.maxFields) throw tooLarge(`has ${schema.fields.length} fields, more than ${limits.maxFields}`, 'CSV_SCHEMA_MAX_FIELDS');
  let enumValues = 0;
  schema.fields.forEach((field, i) => {
    enumValues += field.constraints?.enum?.length ?? 0;
    for (const [text, name] of [
      [field.constraints?.pattern, 'constraints.pattern'],
      [field.format, 'format'],
    ] as const) {
      if (text !== undefined && text.length > limits.maxPatternLength) {
        throw tooLarge(`has a ${name} of ${text.length} characters at fields[${i}], more than ${limits.maxPatternLength}`, 'CSV_SCHEMA_MAX_PATTERN_LENGTH');
      }
    }
  });
  if (enumValues > limits.maxEnumValues) throw tooLarge(`has ${enumValues} enum entries, more than ${limits.maxEnumValues}`, 'CSV_SCHEMA_MAX_ENUM_VALUES');
  const missing = new Set(schema.missingValues ?? defaultMissingValues);
  let patternSize = 0;
  schema.fields.forEach((field, i) => {
    patternSize += compileField(field, i, missing).patternSize;
    if (patternSize > limits.maxPatternSize) {
      throw tooLarge(`has patterns that compile to more than ${limits.maxPatternSize} RE2 instructions (reached at fields[${i}])`, 'CSV_SCHEMA_MAX_PATTERN_SIZE');
    }
  });
}

/**
 * A zod issue of a schema document, as where and what was expected. Neither part holds a value of the
 * document: the path's keys are TableSchema's own (its objects pass unknown keys through unchecked), and
 * zod's messages name expected types and options (test/unit/csv-schema.test.ts holds them to that).
 */
export function describeSchemaIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'it is not a Table Schema';
  const path = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');
  return `${path || '(the document)'}: ${issue.message}`;
}
