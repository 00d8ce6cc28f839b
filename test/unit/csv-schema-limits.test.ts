import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/contract/env.js';
import { BadInputError } from '../../src/contract/errors.js';
import { TableSchema } from '../../src/tasks/csv/options.js';
import { checkSchema, describeSchemaIssue, schemaLimitsFrom, type SchemaLimits } from '../../src/tasks/csv/schema/schema-limits.js';

const limits: SchemaLimits = schemaLimitsFrom(loadConfig({}));
const secret = 'SECRET-7f3a9c';

/** Runs `fn`, which must throw BadInputError `code`; returns its message. */
function refused(fn: () => unknown, code: string): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BadInputError, `expected BadInputError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err.message;
  }
  return assert.fail(`expected ${code}`);
}

const schemaOf = (fields: unknown[]) => TableSchema.parse({ fields });

test('schemas within the limits pass; one past any limit is CSV_SCHEMA_TOO_LARGE naming the variable', () => {
  const small: SchemaLimits = { maxBytes: 1000, maxFields: 3, maxEnumValues: 4, maxPatternLength: 10, maxPatternSize: 40 };
  checkSchema(schemaOf([{ name: 'a', constraints: { enum: ['1', '2'] } }, { name: 'b', constraints: { enum: ['x', 'y'], pattern: '[a-z]{1,5}' } }, { name: 'c' }]), small);
  const cases: [unknown[], RegExp][] = [
    [[{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }], /4 fields, more than 3 \(CSV_SCHEMA_MAX_FIELDS\)/],
    [[{ name: 'a', constraints: { enum: ['1', '2', '3'] } }, { name: 'b', constraints: { enum: ['x', 'y'] } }], /5 enum entries, more than 4 \(CSV_SCHEMA_MAX_ENUM_VALUES\)/],
    [[{ name: 'a' }, { name: 'b', constraints: { pattern: 'x'.repeat(11) } }], /constraints\.pattern of 11 characters at fields\[1\], more than 10 \(CSV_SCHEMA_MAX_PATTERN_LENGTH\)/],
    [[{ name: 'a', type: 'date', format: '%Y-%m-%d---' }], /format of 11 characters at fields\[0\]/],
    [[{ name: 'a', constraints: { pattern: 'a{30}' } }, { name: 'b', constraints: { pattern: 'b{30}' } }], /more than 40 RE2 instructions \(reached at fields\[1\]\) \(CSV_SCHEMA_MAX_PATTERN_SIZE\)/],
  ];
  for (const [fields, message] of cases) assert.match(refused(() => checkSchema(schemaOf(fields), small), 'CSV_SCHEMA_TOO_LARGE'), message);
});

test('the default limits pass the largest schema they allow quickly, and refuse a{1000} repeated', () => {
  // Every field the limit allows, with an equal share of the enum entries and a pattern each.
  const perField = Math.floor(limits.maxEnumValues / limits.maxFields);
  const fields = Array.from({ length: limits.maxFields }, (_, i) => ({ name: `c${i}`, constraints: { enum: Array.from({ length: perField }, (_, j) => `v${j}`), pattern: 'v[0-9]+' } }));
  const schema = schemaOf(fields);
  const started = performance.now();
  checkSchema(schema, limits);
  assert.ok(performance.now() - started < 5000, `${performance.now() - started} ms`);
  const message = refused(() => checkSchema(schemaOf([{ name: 'a', constraints: { pattern: 'a{1000}'.repeat(100) } }]), limits), 'CSV_SCHEMA_TOO_LARGE');
  assert.match(message, /CSV_SCHEMA_MAX_PATTERN_SIZE/);
});

test('zod issues of a document that is not a schema are described without its values', () => {
  const documents: unknown[] = [
    secret,
    [secret],
    { [secret]: secret },
    { fields: secret },
    { fields: [secret] },
    { fields: [{ name: 'a', type: secret }] },
    { fields: [{ name: 'a', constraints: { pattern: [secret], enum: secret } }] },
    { fields: [{ name: 1 }], missingValues: [1, secret] },
    { fields: [{ name: 'a', constraints: { minimum: { [secret]: 1 } } }] },
  ];
  for (const doc of documents) {
    const parsed = TableSchema.safeParse(doc);
    assert.equal(parsed.success, false);
    const text = describeSchemaIssue(parsed.error?.issues[0]);
    assert.ok(!text.includes(secret) && !text.includes('SECRET'), text);
  }
  assert.match(describeSchemaIssue(TableSchema.safeParse({ fields: [{ name: 'a', type: secret }] }).error?.issues[0]), /^fields\[0\]\.type: Invalid option/);
});
