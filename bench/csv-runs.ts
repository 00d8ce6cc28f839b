/**
 * One bench run per process (so peak RSS is that run's own): `bare` is csv-parse streaming arrays with
 * no per-row work. stageline's run is bench/csv-run-stageline.ts, compiled and run without tsx.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import type { TableSchema } from '../src/tasks/csv/options.js';

export interface RunResult {
  seconds: number;
  maxRssKb: number;
  eventLoopP99Ms?: number;
  eventLoopMaxMs?: number;
  rows?: number;
  rejected?: number;
  /** stageline only: the same work again in the same process (a warm worker's next job); its RSS is the process's peak over both. */
  next?: RunResult;
}

export async function bare(file: string): Promise<RunResult> {
  const start = performance.now();
  let rows = 0;
  const parser = parse({ relax_column_count: true, skip_records_with_error: true });
  parser.on('data', () => (rows += 1));
  await pipeline(createReadStream(file), parser);
  return { seconds: (performance.now() - start) / 1000, maxRssKb: process.resourceUsage().maxRSS, rows };
}

export const readSchema = (path: string): TableSchema => JSON.parse(readFileSync(path, 'utf8')) as TableSchema;
export const fileMb = (file: string) => statSync(file).size / 1e6;
