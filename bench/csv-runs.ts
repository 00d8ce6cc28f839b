/**
 * One bench run per process (so peak RSS is that run's own): `bare` is csv-parse streaming arrays with
 * no per-row work; `stageline` is the validation and analysis code the tasks use (the same threads and
 * protocol, local file streams instead of S3), with the main thread's event-loop delay measured. The
 * stageline code is the compiled build in dist/ (what the container runs; `npm ci` builds it), so threads
 * do not pay for compiling TypeScript on start as they would under tsx.
 */
import { closeSync, createReadStream, createWriteStream, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parse } from 'csv-parse';
import { loadConfig } from '../src/contract/env.js';
import type { TableSchema } from '../src/tasks/csv/options.js';

const dist = new URL('../dist/tasks/csv/', import.meta.url);
const { csvLimits } = (await import(new URL('read/limits.js', dist).href)) as typeof import('../src/tasks/csv/read/limits.js');
const { sniffCsv } = (await import(new URL('read/sniff.js', dist).href)) as typeof import('../src/tasks/csv/read/sniff.js');
const { runCsvThread } = (await import(new URL('threads/thread-host.js', dist).href)) as typeof import('../src/tasks/csv/threads/thread-host.js');
const { validateInThreads } = (await import(new URL('validate/parallel-validation.js', dist).href)) as typeof import('../src/tasks/csv/validate/parallel-validation.js');
const { CsvPool } = (await import(new URL('threads/csv-pool.js', dist).href)) as typeof import('../src/tasks/csv/threads/csv-pool.js');

export interface RunResult {
  seconds: number;
  maxRssKb: number;
  eventLoopP99Ms?: number;
  eventLoopMaxMs?: number;
  rows?: number;
  rejected?: number;
}

export async function bare(file: string): Promise<RunResult> {
  const start = performance.now();
  let rows = 0;
  const parser = parse({ relax_column_count: true, skip_records_with_error: true });
  parser.on('data', () => (rows += 1));
  await pipeline(createReadStream(file), parser);
  return { seconds: (performance.now() - start) / 1000, maxRssKb: process.resourceUsage().maxRSS, rows };
}

export async function stageline(file: string, schema: TableSchema, dir: string): Promise<RunResult> {
  // Checkers, as the worker's default CSV_THREADS: the core count, at most 4. The pool's threads start
  // with the worker, before any job, so here before the clock.
  const threads = Math.min(availableParallelism(), 4);
  const pool = new CsvPool({ checkers: threads, validations: 1, analyses: 1, uniqueHeapMb: loadConfig({}).CSV_UNIQUE_HEAP_MB });
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const start = performance.now();
  const headBytes = Buffer.alloc(csvLimits.headBytes);
  const fd = openSync(file, 'r');
  const got = readSync(fd, headBytes, 0, headBytes.length, 0);
  closeSync(fd);
  const format = sniffCsv({ bytes: headBytes.subarray(0, got), gzip: false, complete: got < headBytes.length });
  const signal = new AbortController().signal;
  const validatedPath = join(dir, 'validated.csv');
  const validated = createWriteStream(validatedPath);
  const rejects = createWriteStream(join(dir, 'rejects.jsonl'));
  const counts = await validateInThreads(format, schema, createReadStream(file), { 'validated.csv': validated, 'rejects.jsonl': rejects }, signal, pool);
  validated.end();
  rejects.end();
  await Promise.all([finished(validated), finished(rejects)]);
  const columns = counts.schema.fields.map((f) => ({ name: f.name, type: f.type }));
  const report = await runCsvThread(pool, { mode: 'analyse', columns, tmpDir: dir }, createReadStream(validatedPath), signal);
  const seconds = (performance.now() - start) / 1000;
  delay.disable();
  await pool.close();
  if (report.rows !== counts.rowsValid) throw new Error('analysis and validation disagree on the row count');
  return {
    seconds,
    maxRssKb: process.resourceUsage().maxRSS,
    eventLoopP99Ms: delay.percentile(99) / 1e6,
    eventLoopMaxMs: delay.max / 1e6,
    rows: counts.rowsRead,
    rejected: counts.rowsRejected,
  };
}

export const readSchema = (path: string): TableSchema => JSON.parse(readFileSync(path, 'utf8')) as TableSchema;
export const fileMb = (file: string) => statSync(file).size / 1e6;
