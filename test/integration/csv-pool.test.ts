import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { PassThrough, Readable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadInputError } from '../../src/contract/errors.js';
import type { TableSchema } from '../../src/tasks/csv/options.js';
import { sniffCsv } from '../../src/tasks/csv/read/sniff.js';
import { CsvPool } from '../../src/tasks/csv/threads/csv-pool.js';
import { pieceBytes, runCsvThread } from '../../src/tasks/csv/threads/thread-host.js';
import { analyseInThreads } from '../../src/tasks/csv/analyse/parallel-analysis.js';
import { validateInThreads } from '../../src/tasks/csv/validate/parallel-validation.js';
import { generateSales, salesSchema } from '../helpers/csv-data.js';

// The sales schema without its unique id: validation runs one reader and two checkers.
const lean = { ...salesSchema, fields: salesSchema.fields.map((f) => (f.name === 'id' ? { ...f, constraints: { required: true } } : f)) } as TableSchema;
const small = Buffer.from(generateSales(2_000).text);
const large = Buffer.from(generateSales(400_000).text);
const dir = await mkdtemp(join(tmpdir(), 'csv-pool-'));
after(() => rm(dir, { recursive: true, force: true }));

const pools: CsvPool[] = [];
after(() => Promise.all(pools.map((p) => p.close())));
function newPool(options: Partial<ConstructorParameters<typeof CsvPool>[0]> = {}): CsvPool {
  const pool = new CsvPool({ checkers: 2, validations: 1, analyses: 1, uniqueHeapMb: 512, ...options });
  pools.push(pool);
  return pool;
}

/** `bytes` in 64 KiB chunks, each after `delayMs` (a slow S3 read). */
function chunked(bytes: Buffer, delayMs = 0): Readable {
  return Readable.from(
    (async function* () {
      for (let at = 0; at < bytes.length; at += 65536) {
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        yield bytes.subarray(at, at + 65536);
      }
    })(),
  );
}

async function validate(pool: CsvPool, bytes: Buffer, schema: TableSchema, signal = new AbortController().signal, delayMs = 0) {
  const format = sniffCsv({ bytes: bytes.subarray(0, 1024 * 1024), gzip: false, complete: bytes.length <= 1024 * 1024 });
  const validated = new PassThrough();
  const parts: Buffer[] = [];
  validated.on('data', (b: Buffer) => parts.push(b));
  const counts = await validateInThreads(format, schema, chunked(bytes, delayMs), { 'validated.csv': validated, 'rejects.jsonl': new PassThrough().resume() }, signal, pool);
  return Object.assign(counts, { validated: Buffer.concat(parts) });
}

test('jobs run on the threads the pool started: none starts on a job\'s path', async () => {
  const pool = newPool();
  const before = { lean: pool.threadIds('lean'), analyse: pool.threadIds('analyse') };
  assert.equal(before.lean.length, 3, 'a reader and two checkers start with the pool');
  assert.equal(before.analyse.length, 1, 'analysis\'s first part; the others run on lean threads');
  for (const bytes of [small, large, small, large, small]) {
    const counts = await validate(pool, bytes, lean);
    const analysis = await analyseInThreads(pool, counts.schema.fields.map((f) => ({ name: f.name, type: f.type })), chunked(counts.validated), dir, new AbortController().signal);
    assert.equal(analysis.rows, counts.rowsValid);
  }
  assert.deepEqual({ lean: pool.threadIds('lean'), analyse: pool.threadIds('analyse') }, before);
});

test('input goes to a thread in whole pieces of pieceBytes, and is read no more than a piece ahead of what was posted', async () => {
  const pool = newPool();
  const counts = await validate(pool, large, lean);
  let read = 0;
  const input = Readable.from(
    (async function* () {
      for (let at = 0; at < counts.validated.length; at += 65536) {
        const chunk = counts.validated.subarray(at, at + 65536);
        read += chunk.length;
        yield chunk;
      }
    })(),
  );
  let pieces = 0;
  let ahead = 0;
  const format = sniffCsv({ bytes: counts.validated.subarray(0, 1024 * 1024), gzip: false, complete: false });
  const reader = await runCsvThread(pool, { mode: 'read', format }, input, new AbortController().signal, {
    async ready() {
      // Called once per piece, before it is posted: `pieces` pieces have gone to the thread.
      await new Promise((r) => setTimeout(r, 5));
      ahead = Math.max(ahead, read - pieces * pieceBytes);
      pieces += 1;
    },
  });
  assert.equal(reader.rows, counts.rowsValid);
  assert.equal(pieces, Math.ceil(counts.validated.length / pieceBytes), '64 KiB chunks are gathered into whole pieces');
  // The piece waiting to be posted, and what Readable.from buffers (16 chunks at most): nothing more is read
  // while the caller's backpressure holds the piece.
  assert.ok(ahead <= pieceBytes + 16 * 65536, `read ${ahead} bytes ahead of what was posted`);
});

test('an analysis alone shares its rows among CSV_THREADS parts; analyses at once split them, and report the same', async () => {
  const pool = newPool();
  const a = pool.analysisShare();
  const b = pool.analysisShare();
  assert.deepEqual([a.parts, b.parts], [2, 1]);
  a.done();
  a.done();
  b.done();
  const alone = pool.analysisShare();
  assert.equal(alone.parts, 2, 'the count goes back when analyses end (done twice counts once)');
  alone.done();

  const counts = await validate(pool, large, lean);
  const columns = counts.schema.fields.map((f) => ({ name: f.name, type: f.type }));
  const analyse = (sub: string) => analyseInThreads(pool, columns, chunked(counts.validated), join(dir, sub), new AbortController().signal);
  const single = await analyse('single');
  const [first, second] = await Promise.all([analyse('first'), analyse('second')]);
  // The first ran on two parts, the second on one: the same report, to the last bit.
  assert.equal(single.rows, counts.rowsValid);
  assert.deepEqual(first, single);
  assert.deepEqual(second, single);
});

test('an aborted analysis stops its parts and gives its share back; the next analysis runs on all parts', async () => {
  const pool = newPool();
  const counts = await validate(pool, large, lean);
  const columns = counts.schema.fields.map((f) => ({ name: f.name, type: f.type }));
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('shutdown')), 200);
  const err = await analyseInThreads(pool, columns, chunked(counts.validated, 5), join(dir, 'aborted'), controller.signal).catch((e: unknown) => e);
  assert.equal((err as Error).name, 'AbortedError', `got ${String(err)}`);
  const share = pool.analysisShare();
  assert.equal(share.parts, 2, 'the aborted analysis no longer counts');
  share.done();
  const report = await analyseInThreads(pool, columns, chunked(counts.validated), join(dir, 'after'), new AbortController().signal);
  assert.equal(report.rows, counts.rowsValid);
});

test('a part that finds a broken record fails the analysis with CSV_VALIDATED_UNREADABLE, naming its byte', async () => {
  const pool = newPool();
  const counts = await validate(pool, large, lean);
  const columns = counts.schema.fields.map((f) => ({ name: f.name, type: f.type }));
  // A record with a field too many, in the file's fourth megabyte: block 3, which part 1 reads.
  const at = counts.validated.indexOf(0x0a, 3.5 * pieceBytes) + 1;
  const broken = Buffer.concat([counts.validated.subarray(0, at), Buffer.from('1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\n'), counts.validated.subarray(at)]);
  const err = await analyseInThreads(pool, columns, chunked(broken), join(dir, 'broken'), new AbortController().signal).catch((e: unknown) => e);
  assert.ok(err instanceof BadInputError && err.code === 'CSV_VALIDATED_UNREADABLE', `got ${String(err)}`);
  assert.match(err.message, new RegExp(`the record at byte ${at} has 16 fields`));
});

test('a worker started with V8 options (node --max-old-space-size=…) starts its CSV threads and runs a job', async () => {
  const script = `
const { CsvPool } = await import(${JSON.stringify(new URL('../../src/tasks/csv/threads/csv-pool.ts', import.meta.url).href)});
const { analyseInThreads } = await import(${JSON.stringify(new URL('../../src/tasks/csv/analyse/parallel-analysis.ts', import.meta.url).href)});
const { Readable } = await import('node:stream');
const pool = new CsvPool({ checkers: 1, validations: 1, analyses: 1, uniqueHeapMb: 64 });
const input = Readable.from([Buffer.from('a\\n1\\n2\\n')]);
const report = await analyseInThreads(pool, [{ name: 'a', type: 'integer' }], input, ${JSON.stringify(dir)}, new AbortController().signal);
console.log(JSON.stringify(report));
await pool.close();`;
  const child = spawnSync(process.execPath, ['--max-old-space-size=256', '--max-semi-space-size=4', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(child.status, 0, child.stderr);
  const report = JSON.parse(child.stdout.trim().split('\n').pop()!) as { rows: number; columns: { mean: number }[] };
  assert.equal(report.rows, 2);
  assert.equal(report.columns[0]!.mean, 1.5);
});

test('an aborted job\'s threads are replaced, and the next job runs', async () => {
  const pool = newPool();
  const before = pool.threadIds('lean');
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('shutdown')), 300);
  const err = await validate(pool, large, lean, controller.signal, 5).catch((e: unknown) => e);
  assert.equal((err as Error).name, 'AbortedError', `got ${String(err)}`);
  const counts = await validate(pool, small, lean);
  assert.equal(counts.rowsValid + counts.rowsRejected, 2_000);
  const afterAbort = pool.threadIds('lean');
  assert.ok(afterAbort.some((id) => !before.includes(id)), 'the stopped threads were replaced by new ones');
});

test('a unique checker that runs out of its heap fails its job as bad input; the next unique job runs', async () => {
  const pool = newPool({ uniqueHeapMb: 16 });
  const rows = Array.from({ length: 200_000 }, (_, i) => `value-${i}-${'x'.repeat(12)}`);
  const unique = { fields: [{ name: 'id', type: 'string', constraints: { unique: true } }] } as TableSchema;
  const err = await validate(pool, Buffer.from(`id\n${rows.join('\n')}\n`), unique).catch((e: unknown) => e);
  assert.ok(err instanceof BadInputError && err.code === 'CSV_MEMORY_LIMIT', `got ${String(err)}`);
  const counts = await validate(pool, Buffer.from('id\na\nb\na\n'), unique);
  assert.deepEqual([counts.rowsValid, counts.rowsRejected], [2, 1]);
});

test('as many validations at once as the pool is sized for never wait on each other\'s threads', { timeout: 120_000 }, async () => {
  // Each spans many blocks, so a reader stalls for good if one of its checkers waits behind another job.
  const pool = newPool({ validations: 3 });
  const results = await Promise.all([validate(pool, large, lean), validate(pool, large, lean), validate(pool, large, lean)]);
  for (const counts of results) assert.equal(counts.rowsRead, 400_000);
});
