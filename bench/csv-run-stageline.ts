/**
 * stageline's run of bench:csv, in a process of its own (so peak RSS is the run's own): the validation and
 * analysis code the tasks use (the same threads and protocol, local file streams instead of S3), with the
 * main thread's event-loop delay measured. It runs as the container runs: this file compiled to
 * JavaScript (bench/csv.ts compiles it into .bench/) and plain `node`, with no TypeScript loader in the
 * process (tsx alone added ~33 MB of RSS), over the compiled build in dist/ (STAGELINE_DIST), so threads
 * do not compile TypeScript either.
 *
 * Usage (by bench/csv.ts): node .bench/runs/bench/csv-run-stageline.js --file=F --dir=D
 * Prints its RunResult as JSON on the last line.
 */
import { closeSync, createReadStream, createWriteStream, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { RunResult } from './csv-runs.js';
import type { TableSchema } from '../src/tasks/csv/options.js';

const dist = new URL(process.env.STAGELINE_DIST ?? new URL('../dist/', import.meta.url).href);
const load = async <T>(path: string): Promise<T> => (await import(new URL(path, dist).href)) as T;
const { loadConfig } = await load<typeof import('../src/contract/env.js')>('contract/env.js');
const { csvLimits } = await load<typeof import('../src/tasks/csv/read/limits.js')>('tasks/csv/read/limits.js');
const { sniffCsv } = await load<typeof import('../src/tasks/csv/read/sniff.js')>('tasks/csv/read/sniff.js');
const { analyseInThreads } = await load<typeof import('../src/tasks/csv/analyse/parallel-analysis.js')>('tasks/csv/analyse/parallel-analysis.js');
const { validateInThreads } = await load<typeof import('../src/tasks/csv/validate/parallel-validation.js')>('tasks/csv/validate/parallel-validation.js');
const { CsvPool } = await load<typeof import('../src/tasks/csv/threads/csv-pool.js')>('tasks/csv/threads/csv-pool.js');

/** Validation, then analysis of what it kept: the work of a CSV job's two stages, with files for S3. */
async function validateAndAnalyse(pool: InstanceType<typeof CsvPool>, file: string, schema: TableSchema, dir: string) {
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
  const report = await analyseInThreads(pool, columns, createReadStream(validatedPath), dir, signal);
  if (report.rows !== counts.rowsValid) throw new Error('analysis and validation disagree on the row count');
  return counts;
}

async function stageline(file: string, schema: TableSchema, dir: string): Promise<RunResult> {
  // Checkers, as the worker's default CSV_THREADS: the core count, at most 4.
  const threads = Math.min(availableParallelism(), 4);
  const pool = new CsvPool({ checkers: threads, validations: 1, analyses: 1, uniqueHeapMb: loadConfig({}).CSV_UNIQUE_HEAP_MB });
  // The pool's threads start with the worker, long before a job: a job of the file's first rows runs
  // before the clock, so the threads have loaded (as pandas is imported before its clock starts).
  const warm = join(dir, 'warm.csv');
  writeFileSync(warm, firstLines(file, 4), 'latin1');
  await validateAndAnalyse(pool, warm, schema, dir);
  const job = async (): Promise<RunResult> => {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const start = performance.now();
    const counts = await validateAndAnalyse(pool, file, schema, dir);
    const seconds = (performance.now() - start) / 1000;
    delay.disable();
    return {
      seconds,
      maxRssKb: process.resourceUsage().maxRSS,
      eventLoopP99Ms: delay.percentile(99) / 1e6,
      eventLoopMaxMs: delay.max / 1e6,
      rows: counts.rowsRead,
      rejected: counts.rowsRejected,
    };
  };
  // The first job pays for the threads' code being compiled by V8 as it runs; a worker's later jobs find it compiled.
  const first = await job();
  const next = await job();
  await pool.close();
  return { ...first, next };
}

/** The first `n` lines of a file (read from its first 64 KiB). */
function firstLines(file: string, n: number): string {
  const bytes = Buffer.alloc(65536);
  const fd = openSync(file, 'r');
  const got = readSync(fd, bytes, 0, bytes.length, 0);
  closeSync(fd);
  return bytes.toString('latin1', 0, got).split('\n').slice(0, n).join('\n') + '\n';
}

const { values } = parseArgs({ options: { file: { type: 'string' }, dir: { type: 'string' } } });
const dir = values.dir!;
console.log(JSON.stringify(await stageline(values.file!, JSON.parse(readFileSync(join(dir, 'schema.json'), 'utf8')) as TableSchema, dir)));
