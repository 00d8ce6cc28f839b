/**
 * Attacks on CSV validation through the whole running worker: a pattern with catastrophic backtracking,
 * schemas too large to hold, a schemaKey naming an object that is not a schema (whose text must not come
 * back in the status, the event or a log line), a header of 100,000 columns, and a `unique` column that
 * outgrows its thread's heap. Each ends `failed` with a permanent code within a minute, one attempt per
 * stage, nothing dead-lettered, one job.failed event, and the worker serves a normal job afterwards.
 */
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { TableSchema } from '../../src/tasks/csv/options.js';
import { type JobRequest } from '../../src/contract/job.js';
import { validateInThreads } from '../../src/tasks/csv/validate/parallel-validation.js';
import { checkSchema, checkSchemaBytes } from '../../src/tasks/csv/schema/schema-limits.js';
import { sniffCsv } from '../../src/tasks/csv/read/sniff.js';
import { expectRefused, expectStillServing, startAttackBench, type AttackBench } from '../helpers/attack.js';
import { csvOptions } from '../helpers/csv-context.js';

const secret = 'SECRET-d41d8cd98f00b204';

describe('hostile CSV schemas and files', () => {
  let bench: AttackBench;
  const logLines: string[] = [];
  let jobs = 0;

  before(async () => {
    // Info level, as production logs: what a refused job logs is checked for the object's text too.
    const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
    bench = await startAttackBench({ CSV_UNIQUE_HEAP_MB: '16' }, { logger });
  });
  after(() => bench.stop());

  /** Uploads `csv` as a new job's input and sends the job request; returns the jobId. */
  async function attack(csv: string, options: Partial<JobRequest> = {}): Promise<string> {
    const jobId = `csv-attack-${++jobs}`;
    await bench.put(`uploads/${jobId}/input.csv`, csv);
    await bench.send({ jobId, input: { key: `uploads/${jobId}/input.csv` }, kind: 'csv', ...options });
    return jobId;
  }

  async function statusText(jobId: string): Promise<string> {
    const res = await bench.stack.clients.s3.send(new GetObjectCommand({ Bucket: bench.stack.emulator.bucket, Key: `jobs/${jobId}/status.json` }));
    return (await res.Body?.transformToString('utf8')) ?? '';
  }

  test('a Table Schema pattern with catastrophic backtracking runs in linear time: the near-matches are rejected rows', async () => {
    // On V8's backtracking engine each of these values takes 2^40 steps: the job would never end.
    const rows = Array.from({ length: 200 }, (_, i) => `${i},${'a'.repeat(40)}!`);
    const schema = { fields: [{ name: 'id', type: 'integer' as const }, { name: 'v', type: 'string' as const, constraints: { pattern: '(a+)+$' } }] };
    const started = Date.now();
    const jobId = await attack(`id,v\n${rows.join('\n')}\n`, { csv: { schema, maxErrorRate: 0.05 } });
    const status = await expectRefused(bench, jobId, 'CSV_ERROR_RATE_EXCEEDED');
    assert.ok(Date.now() - started < 60_000);
    assert.match(status.stages.validation?.error?.message ?? '', /^200 of 200 rows/);
    await expectStillServing(bench);
  });

  test('a schema whose enum has millions of entries is refused before anything holds it: CSV_SCHEMA_TOO_LARGE', async () => {
    // 2,000,000 entries (4 MB): past CSV_SCHEMA_MAX_BYTES, so only its first megabyte and a byte are read.
    const huge = `{"fields":[{"name":"v","constraints":{"enum":[${'0,'.repeat(1_999_999)}0]}}]}`;
    await bench.put('uploads/schemas/huge-enum.json', huge);
    const first = await attack('v\n0\n', { csv: { schemaKey: 'uploads/schemas/huge-enum.json', maxErrorRate: 0.05 } });
    const status = await expectRefused(bench, first, 'CSV_SCHEMA_TOO_LARGE');
    assert.match(status.stages.ingestion?.error?.message ?? '', /larger than 1048576 bytes \(CSV_SCHEMA_MAX_BYTES\)/);
    // 150,000 entries fit in the byte limit (about 940 KB) and are refused by their count.
    const many = JSON.stringify({ fields: [{ name: 'v', constraints: { enum: Array.from({ length: 150_000 }, (_, i) => i) } }] });
    assert.ok(many.length < 1024 * 1024);
    await bench.put('uploads/schemas/many-enum.json', many);
    const second = await attack('v\n0\n', { csv: { schemaKey: 'uploads/schemas/many-enum.json', maxErrorRate: 0.05 } });
    const refused = await expectRefused(bench, second, 'CSV_SCHEMA_TOO_LARGE');
    assert.match(refused.stages.ingestion?.error?.message ?? '', /150000 enum entries, more than 100000 \(CSV_SCHEMA_MAX_ENUM_VALUES\)/);
    await expectStillServing(bench);
  });

  test('csv.schemaKey naming an object that is not a schema: refused, and nothing of its text is echoed', async () => {
    const objects: [string, string, string][] = [
      ['not JSON', `aws_secret_access_key = ${secret}\n`, 'CSV_SCHEMA_INVALID'],
      ['JSON, not a schema', JSON.stringify({ password: secret, fields: secret }), 'CSV_SCHEMA_INVALID'],
      ['a field type that is no type', JSON.stringify({ fields: [{ name: 'a', type: secret }] }), 'CSV_SCHEMA_INVALID'],
      ['a pattern RE2 refuses', JSON.stringify({ fields: [{ name: 'a', constraints: { pattern: `(${secret})\\1` } }] }), 'CSV_SCHEMA_INVALID'],
      ['a minimum of another type', JSON.stringify({ fields: [{ name: 'a', type: 'integer', constraints: { minimum: secret } }] }), 'CSV_SCHEMA_INVALID'],
      ['schema-shaped, naming other columns', JSON.stringify({ fields: [{ name: secret }, { name: `${secret}-2` }] }), 'CSV_SCHEMA_MISMATCH'],
    ];
    for (const [label, body, code] of objects) {
      const key = `uploads/private/${label.replace(/\W+/g, '-')}.json`;
      await bench.put(key, body);
      const jobId = await attack('a,b\n1,2\n', { csv: { schemaKey: key, maxErrorRate: 0.05 } });
      await expectRefused(bench, jobId, code);
      const raw = await statusText(jobId);
      assert.ok(!raw.includes(secret), `${label}: status.json holds the object's text: ${raw}`);
      assert.ok(!JSON.stringify(bench.events.get(jobId)).includes(secret), `${label}: the job.failed event holds the object's text`);
    }
    // A header is an object's text too: duplicate names are named by position.
    const dup = await attack(`${secret},b,${secret}\n1,2,3\n`);
    await expectRefused(bench, dup, 'CSV_DUPLICATE_HEADER');
    assert.ok(!(await statusText(dup)).includes(secret));
    assert.ok(!JSON.stringify(bench.events.get(dup)).includes(secret));
    const leaked = logLines.filter((l) => l.includes(secret));
    assert.deepEqual(leaked, [], 'no log line holds the object text');
    await expectStillServing(bench);
  });

  test('a CSV of 100,000 columns is refused at ingestion: CSV_TOO_MANY_COLUMNS', async () => {
    // Short names keep the header line under the 1 MiB head (a longer one is CSV_LINE_TOO_LONG first).
    const header = Array.from({ length: 100_000 }, (_, i) => `c${i}`).join(',');
    assert.ok(header.length < 1024 * 1024);
    const jobId = await attack(`${header}\n${'1,'.repeat(99_999)}1\n`);
    const status = await expectRefused(bench, jobId, 'CSV_TOO_MANY_COLUMNS');
    assert.match(status.stages.ingestion?.error?.message ?? '', /100000 columns; at most 2000/);
    await expectStillServing(bench);
  });

  test('a unique column that outgrows its thread heap fails the job as bad input (CSV_MEMORY_LIMIT), not a retried crash', async () => {
    // 200,000 distinct values do not fit the 16 MB heap CSV_UNIQUE_HEAP_MB gives this worker's unique checker.
    const rows = Array.from({ length: 200_000 }, (_, i) => `value-${i}-${'x'.repeat(12)}`);
    const schema = { fields: [{ name: 'id', type: 'string' as const, constraints: { unique: true } }] };
    const jobId = await attack(`id\n${rows.join('\n')}\n`, { csv: { schema, maxErrorRate: 0.05 } });
    const status = await expectRefused(bench, jobId, 'CSV_MEMORY_LIMIT');
    assert.match(status.stages.validation?.error?.message ?? '', /ran out of its 16 MB heap/);
    await expectStillServing(bench);
  });
});

test('the largest schema the default limits allow is checked within the checker threads\' heaps', async () => {
  const columns = csvOptions.schemaLimits.maxFields;
  const names = Array.from({ length: columns }, (_, i) => `c${i}`);
  const perField = Math.floor(csvOptions.schemaLimits.maxEnumValues / columns);
  const schema = {
    fields: names.map((name) => ({ name, type: 'string' as const, constraints: { enum: Array.from({ length: perField }, (_, i) => `v${i}`), pattern: 'v[0-9]+' } })),
  };
  // Within every limit, and near the enum and field limits: the schema the checks let through must fit a checker.
  checkSchemaBytes(JSON.stringify(schema).length, csvOptions.schemaLimits);
  checkSchema(TableSchema.parse(schema), csvOptions.schemaLimits);
  const text = `${names.join(',')}\n${Array.from({ length: 200 }, (_, r) => names.map((_, i) => `v${(r + i) % perField}`).join(',')).join('\n')}\n`;
  const bytes = Buffer.from(text);
  const format = sniffCsv({ bytes, gzip: false, complete: true });
  const sink = () => new PassThrough().resume();
  const counts = await validateInThreads(format, schema, Readable.from([bytes]), { 'validated.csv': sink(), 'rejects.jsonl': sink() }, new AbortController().signal, csvOptions.pool);
  assert.equal(counts.rowsValid, 200);
});
