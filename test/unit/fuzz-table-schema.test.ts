import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { EnvSchema } from '../../src/contract/env.js';
import { CsvOptions, type TableSchema } from '../../src/tasks/csv/options.js';
import type { JobMessage } from '../../src/contract/job.js';
import { JobRequest } from '../../src/tasks/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { schemaLimitsFrom } from '../../src/tasks/csv/schema/schema-limits.js';
import { loadSchema } from '../../src/tasks/csv/schema/schema-source.js';
import { OutputText, RowValidator } from '../../src/tasks/csv/validate/validator.js';
import { bounded, fuzzParams, typedOrValue } from '../helpers/fuzz.js';

// Property: whatever Table Schema a job names (inline in its request, or an object read by schemaKey),
// loading it, compiling it in a checker and checking rows against it ends in results or a coded
// BadInputError, and what validation then writes (rejects.jsonl, validation.json, the schema handed to
// each thread) can be written. Run with EnvSchema's default limits, as a worker without overrides.

const limits = schemaLimitsFrom(EnvSchema.parse({}));
const text = fc.oneof(fc.string({ maxLength: 10 }), fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom('', ' ', '__proto__', 'constructor', 'toString', 'a'.repeat(300)));
const junk = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(null, [], {}, 1e308, -0, Number.MAX_SAFE_INTEGER + 2));
const name = fc.oneof({ weight: 12, arbitrary: fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/) }, { weight: 1, arbitrary: text });

/** Regular expressions: well-formed ones with nesting and counted repeats, and pieces that stress a compiler (lookaround, backreferences, broken syntax). */
const atom = fc.constantFrom('a', 'é', '.', '[a-z]', '[^,]', '\\d', '\\w', '\\p{L}', '(ab|c)', '(?:a+)', '(a*)', '\\x{10FFFF}');
const quantifier = fc.constantFrom('', '', '*', '+', '?', '{2}', '{1,3}', '*?');
const wellFormed = fc.array(fc.tuple(atom, quantifier).map(([a, q]) => a + q), { minLength: 1, maxLength: 6 }).chain((parts) =>
  fc.constantFrom(parts.join(''), `(${parts.join('|')})+`, `((${parts.join('')}){10}){10}`, `^${parts.join('')}$`),
);
const brokenPieces = fc
  .array(fc.oneof(fc.constantFrom('(', ')', '[', ']', '\\', '(?=a)', '(?<n>a)', '(?P<n>a)', '\\1', '(?i)', '\\uD800', '{99999999999}', 'a{2,1}', '**', '[z-a]', 'a{1000}', 'a{1001}', '(a{0,1000}){1000}', '((a{100}){100}){100}'), fc.string({ maxLength: 3 })), { maxLength: 8 })
  .map((parts) => parts.join(''));
const pattern = fc.oneof({ weight: 4, arbitrary: wellFormed }, { weight: 1, arbitrary: brokenPieces });
/** strftime-like formats, with directives Table Schema has, ones it does not, and regex metacharacters as literals. */
/** strftime-like formats: ones Table Schema has, and directives it does not, repeated ones, regex metacharacters as literals. */
const format = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('default', 'any', '%Y-%m-%d', '%d/%m/%Y', '%Y%m%d', '%m.%d.%Y %H:%M:%S', '%Y-%m-%dT%H:%M') },
  { weight: 1, arbitrary: fc.array(fc.constantFrom('%Y', '%m', '%d', '%H', '%M', '%S', '%', '%%', '%q', '-', '/', '.', '(', '[', '\\', 'T', ' ', '*', 'é'), { maxLength: 8 }).map((p) => p.join('')) },
);
/** Constraint values of a field's own type (enum entries, bounds), now and then of another type. */
const isoDate = fc.date({ min: new Date('0001-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }).map((d) => d.toISOString());
const valueOf = (type: string) =>
  fc.oneof(
    { weight: 15, arbitrary: type === 'integer' ? fc.oneof(fc.integer(), fc.integer().map(String)) : type === 'number' ? fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom('1e308', '-0', '5e-324')) : type === 'boolean' ? fc.constantFrom('true', 'FALSE', '1', '0') : type === 'date' ? isoDate.map((d) => d.slice(0, 10)) : type === 'datetime' ? isoDate.map((d) => d.slice(0, 19)) : fc.string({ maxLength: 6 }) },
    { weight: 1, arbitrary: fc.oneof(fc.double(), fc.boolean(), fc.constantFrom('2024-02-30', '1e309', '99999999999999999999', 'abc', '')) },
  );

const field = fc.constantFrom('string', 'integer', 'number', 'boolean', 'date', 'datetime').chain((type) =>
  fc.record(
    {
      name,
      type: fc.constant(type),
      format: type === 'date' || type === 'datetime' ? fc.oneof({ weight: 3, arbitrary: fc.constant('default') }, { weight: 1, arbitrary: format }) : format,
      constraints: fc.record(
        { required: fc.boolean(), unique: fc.boolean(), minimum: valueOf(type), maximum: valueOf(type), pattern, enum: fc.array(valueOf(type), { maxLength: 12 }) },
        { requiredKeys: [] },
      ),
      trueValues: fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
      falseValues: fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
      description: fc.string({ maxLength: 8 }),
    },
    { requiredKeys: ['name', 'type'] },
  ),
);

/** Every place in a JSON value, as a path of keys. */
function paths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [at];
  return [at, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...at, Array.isArray(value) ? Number(k) : k]))];
}
/** `value` with the thing at one of its places (chosen by `pick`) replaced by `junk`. */
function replaceAt(value: unknown, pick: number, junkValue: unknown): unknown {
  const all = paths(value).filter((p) => p.length > 0);
  if (all.length === 0) return junkValue;
  const path = all[pick % all.length]!;
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  parent[path.at(-1)!] = junkValue;
  return copy;
}

/** A well-formed schema, or one with a single part (anywhere in it) replaced by a value of the wrong kind. */
const schemaValue = fc
  .tuple(
    fc.record({ fields: fc.array(field, { minLength: 1, maxLength: 6 }), missingValues: fc.array(fc.constantFrom('', 'NA', '-', 'null', ' '), { maxLength: 3 }) }, { requiredKeys: ['fields'] }),
    fc.option(fc.tuple(fc.nat(), junk), { freq: 3 }),
  )
  .map(([schema, damage]) => (damage ? replaceAt(schema, damage[0], damage[1]) : schema));
/** The bytes of a schema object: its JSON, or that JSON damaged (cut, with a BOM, with bytes that are not UTF-8). */
const schemaBytes = fc.tuple(schemaValue, fc.oneof({ weight: 12, arbitrary: fc.constant('json') }, { weight: 1, arbitrary: fc.constantFrom('cut', 'bom', 'latin1') }), fc.nat()).map(([value, how, n]) => {
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  if (how === 'cut') return json.subarray(0, n % (json.length + 1));
  if (how === 'bom') return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json]);
  if (how === 'latin1') return Buffer.concat([json.subarray(0, n % (json.length + 1)), Buffer.from([0xe9, 0xff]), json.subarray(n % (json.length + 1))]);
  return json;
});

/** A header for the schema: its field names in some order, sometimes with one missing or one extra. */
const headerFor = (schema: TableSchema, order: number[], change: number) => {
  const names = schema.fields.map((f) => f.name);
  const header = order.map((i) => names[i % names.length]!).filter((n, i, all) => all.indexOf(n) === i);
  for (const n of names) if (!header.includes(n)) header.push(n);
  if (change === 1) header.pop();
  if (change === 2) header.push('extra column');
  return header;
};
const cellValue = fc.oneof(fc.constantFrom('', 'NA', '0', '-0', '1', '1.5', '1e309', '99999999999999999999', 'true', 'FALSE', '2024-02-29', '2023-02-29', '29/02/2024', '2024-01-01T25:00:00', 'a'.repeat(2000)), fc.string({ maxLength: 8 }));
const rows = fc.array(fc.tuple(fc.array(cellValue, { maxLength: 8 }), fc.boolean()), { maxLength: 12 });

const store = (bytes: Buffer) => ({ readHead: async (_ref: unknown, n: number) => bytes.subarray(0, n), inputScope: { check: () => undefined } }) as unknown as ObjectStore;
const jobWith = (csv: JobMessage['csv']): JobMessage => ({ jobId: 'fuzz', kind: 'csv', input: { bucket: 'b', key: 'uploads/x.csv' }, outputs: {}, ...(csv ? { csv } : {}) });

/** A checker thread's work with the schema, and what validation writes from it. */
function checkRows(schema: TableSchema, header: string[], input: [string[], boolean][]): void {
  // Handed to each thread as workerData (structured clone) and written into validation.json.
  structuredClone(schema);
  const validator = new RowValidator(header, schema, ',');
  const out = { validated: new OutputText(), rejects: new OutputText() };
  const { handler, counts } = validator.block({ firstRow: 0, withHeader: false }, out);
  let inputChars = 0;
  for (const [cells, fit] of input) {
    const row = fit ? header.map((_, i) => cells[i] ?? '') : cells;
    inputChars += row.reduce((n, c) => n + c.length + 1, 0);
    handler.record(row, undefined);
  }
  assert.equal(counts.rowsValid + counts.rowsRejected, counts.rowsRead);
  const longestName = Math.max(0, ...header.map((h) => h.length));
  const longestPattern = Math.max(0, ...schema.fields.map((f) => f.constraints?.pattern?.length ?? 0));
  const rejects = out.rejects.take().length;
  // A reject line names the row, column and value and says why: never more than a constant per row beyond those.
  assert.ok(rejects <= counts.rowsRejected * (6 * (longestName + longestPattern) + 600) + 6 * inputChars, `rejects ${rejects} for ${counts.rowsRejected} rows`);
  JSON.stringify({ schema: RowValidator.applied(header, schema, []), counts });
}

test('fuzz: a schema read by schemaKey loads, compiles and checks rows, or fails with a coded BadInputError', async () => {
  await fc.assert(
    fc.asyncProperty(
      schemaBytes,
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.constantFrom(0, 0, 0, 1, 2),
      rows,
      bounded('schema by key', async (bytes, order, change, input) => {
        const loaded = await typedOrValue(() => loadSchema(jobWith(CsvOptions.parse({ schemaKey: 'uploads/schema.json' })), store(bytes), new AbortController().signal, limits));
        if ('error' in loaded) return;
        const { schema } = loaded.value;
        assert.ok(schema);
        await typedOrValue(() => checkRows(schema, headerFor(schema, order, change), input));
      }),
    ),
    fuzzParams(500, 5_000),
  );
});

test('fuzz: an inline schema is an unusable message, or loads, compiles and checks rows, or fails with a coded BadInputError', async () => {
  await fc.assert(
    fc.asyncProperty(
      schemaValue,
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.constantFrom(0, 0, 0, 1, 2),
      rows,
      bounded('inline schema', async (value, order, change, input) => {
        // The consumer's check of the job request (the one IngestionMessage member it can match): a schema it refuses dead-letters the message.
        const parsed = JobRequest.safeParse({ input: { key: 'uploads/x.csv' }, csv: { schema: value } });
        const csv = parsed.success ? parsed.data.csv : undefined;
        if (!csv) return;
        const loaded = await typedOrValue(() => loadSchema(jobWith(csv), store(Buffer.alloc(0)), new AbortController().signal, limits));
        if ('error' in loaded) return;
        const { schema } = loaded.value;
        assert.ok(schema);
        await typedOrValue(() => checkRows(schema, headerFor(schema, order, change), input));
      }),
    ),
    fuzzParams(500, 5_000),
  );
});
