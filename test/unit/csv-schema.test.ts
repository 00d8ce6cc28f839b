import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadInputError } from '../../src/contract/errors.js';
import { TableSchema } from '../../src/tasks/csv/options.js';
import { convertNumber, converterFor, Invalid } from '../../src/tasks/csv/schema/field-types.js';
import { compileSchema } from '../../src/tasks/csv/schema/schema.js';
import { checkHeader } from '../../src/tasks/csv/read/sniff.js';
import { compileUserPattern } from '../../src/tasks/csv/schema/user-pattern.js';

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
const cell = (schema: TableSchema, value: string) => compileSchema(schema, schema.fields.map((f) => f.name)).check([value]);

test('a catastrophic-backtracking pattern checks a long near-match in linear time', () => {
  const pattern = compileUserPattern('(a+)+$', 'fields[0].constraints.pattern');
  const started = performance.now();
  for (let i = 0; i < 20; i += 1) assert.equal(pattern.test(`${'a'.repeat(100_000)}!`), false);
  assert.ok(performance.now() - started < 2000, `20 near-matches of 100,000 characters took ${performance.now() - started} ms`);
  assert.equal(pattern.test('a'.repeat(100_000)), true);
  // The same on V8's engine would take 2^30 steps for 30 characters: this is what RE2 is for.
});

test('patterns match the whole value, and cannot break out of the anchoring', () => {
  assert.equal(compileUserPattern('a|ab', 'p').test('ab'), true);
  assert.equal(compileUserPattern('[A-Z][a-z]+', 'p').test('Oslo1'), false);
  assert.equal(compileUserPattern('[A-Z][a-z]+', 'p').test('xOslo'), false);
  assert.equal(compileUserPattern('\\d{4}-\\d{2}', 'p').test('2024-05'), true);
  // Wrapped as ^(?:…)$ this would be `^(?:a)|(b)$`, which matches "ab…" anything: compiled alone it is refused.
  refused(() => compileUserPattern('a)|(b', 'fields[1].constraints.pattern'), 'CSV_SCHEMA_INVALID');
});

test('a pattern RE2 cannot run is CSV_SCHEMA_INVALID naming the field, never quoting the pattern', () => {
  for (const pattern of [`(${secret})\\1`, `(?=${secret})x`, `(?<=${secret})x`, `${secret}[`, `${secret}{2,1}`, `(?:${secret}{100}){100}`]) {
    const schema = schemaOf([{ name: 'a' }, { name: 'b', constraints: { pattern } }]);
    const message = refused(() => compileSchema(schema, ['a', 'b']), 'CSV_SCHEMA_INVALID');
    assert.match(message, /fields\[1\]\.constraints\.pattern/);
    assert.ok(!message.includes(secret), message);
  }
});

test('strftime formats: each directive once, matched like the regular expression they stand for', () => {
  const date = (format: string) => converterFor({ name: 'd', type: 'date', format }, 'fields[0]');
  const reference = (format: string, raw: string) => {
    // The old definition, on V8's engine: the formats here have each directive once, so it is bounded.
    const parts: Record<string, string> = { Y: '(?<Y>\\d{4})', m: '(?<m>\\d{1,2})', d: '(?<d>\\d{1,2})' };
    const source = format.replace(/%([Ymd])|([.*+?^${}()|[\]\\])|./g, (all, spec: string | undefined, special: string | undefined) => (spec ? parts[spec]! : special ? `\\${special}` : all));
    const g = new RegExp(`^${source}$`).exec(raw)?.groups;
    return g ? [Number(g.Y), Number(g.m), Number(g.d)].join(',') : undefined;
  };
  const formats = ['%d/%m/%Y', '%Y%m%d', '%d%m%Y', '%m.%d.%Y', '%Y-%m-%d', '(%d) %m|%Y'];
  const values = ['1/2/2024', '01/02/2024', '20240102', '2024112', '1122024', '11122024', '12.31.2024', '2024-1-2', '(3) 4|2024', '1/2/24', '111/2/2024', '', 'x'];
  for (const format of formats) {
    for (const raw of values) {
      const got = date(format)(raw);
      const want = reference(format, raw);
      if (want === undefined) assert.ok(got instanceof Invalid, `${format} ${raw}: ${String(got)}`);
      else if (!(got instanceof Invalid)) assert.equal(got.split('-').map(Number).join(','), want, `${format} ${raw}`);
      else assert.equal(got.error, 'not a calendar date', `${format} ${raw}`);
    }
  }
  assert.equal(converterFor({ name: 't', type: 'datetime', format: '%d/%m/%Y %H:%M' }, 'fields[0]')('2/3/2024 4:05'), '2024-03-02T04:05:00');
  assert.match(refused(() => date('%Y-%m-%d %Y'), 'CSV_SCHEMA_INVALID'), /fields\[0\]\.format uses %Y more than once/);
  const message = refused(() => date(`${secret}%q`), 'CSV_SCHEMA_INVALID');
  assert.match(message, /fields\[0\]\.format has a directive other than .* at character 14/);
  assert.ok(!message.includes(secret), message);
  // Each directive once: at most 2^5 tries whatever the value, so a long value costs its length.
  const started = performance.now();
  assert.ok(date('%d%m%Y')('1'.repeat(1_000_000)) instanceof Invalid);
  assert.ok(performance.now() - started < 1000);
});

test('a megabyte of digits and a letter is "not a number" at once (the number pattern does not backtrack)', () => {
  const started = performance.now();
  assert.ok(convertNumber(`${'1'.repeat(1_000_000)}x`) instanceof Invalid);
  assert.ok(convertNumber(`1.${'1'.repeat(1_000_000)}x`) instanceof Invalid);
  assert.ok(performance.now() - started < 1000, `${performance.now() - started} ms`);
});

test('schema errors name places and codes, never what the schema or the header holds', () => {
  const header = ['id', `${secret}-col`];
  const mismatch = refused(() => compileSchema(schemaOf([{ name: 'id' }, { name: `${secret}-field` }]), header), 'CSV_SCHEMA_MISMATCH');
  assert.match(mismatch, /fields\[1\] name no column of the file; no field of the schema names the file's column 2 \(counting from 1\)/);
  const duplicate = refused(() => compileSchema(schemaOf([{ name: secret }, { name: secret }]), [secret]), 'CSV_SCHEMA_INVALID');
  assert.match(duplicate, /fields\[1\] has the same name as fields\[0\]/);
  for (const constraints of [{ minimum: secret }, { maximum: secret }, { enum: [1, secret] }]) {
    const message = refused(() => compileSchema(schemaOf([{ name: secret, type: 'integer', constraints }]), [secret]), 'CSV_SCHEMA_INVALID');
    assert.match(message, /fields\[0\]: .* constraint is not a valid integer/);
  }
  const booleans = refused(() => compileSchema(schemaOf([{ name: 'b', type: 'boolean', trueValues: secret }]), ['b']), 'CSV_SCHEMA_INVALID');
  assert.match(booleans, /fields\[0\]\.trueValues is not a list of strings/);
  const dups = refused(() => checkHeader(['a', secret, 'b', secret, 'a']), 'CSV_DUPLICATE_HEADER');
  assert.match(dups, /column 4 \(same as 2\), 5 \(same as 1\)/);
  for (const message of [mismatch, duplicate, booleans, dups]) assert.ok(!message.includes(secret), message);
});

test('an enum too long to spell out in a reject is counted instead', () => {
  const many = Array.from({ length: 100 }, (_, i) => `value-${i}`);
  assert.deepEqual(cell(schemaOf([{ name: 'a', constraints: { enum: many } }]), 'other'), { column: 'a', value: 'other', error: "not one of the 100 values the schema's enum allows" });
  assert.deepEqual(cell(schemaOf([{ name: 'a', constraints: { enum: ['x', 'y'] } }]), 'z'), { column: 'a', value: 'z', error: 'not one of x, y' });
});
