/**
 * `tsx bench/csv-patterns.ts [--root=DIR] [--rows=N] [--runs=N]`: validation time of a CSV whose schema has
 * user patterns (and a custom date format) on every row, with one checker thread and with the worker's
 * default checker count. Runs the compiled build in DIR/dist (default: this checkout), so two builds can be
 * compared with the same generated file: how much the RE2 engine user patterns run on costs.
 */
import { closeSync, createReadStream, createWriteStream, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { finished } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/contract/env.js';
import type { TableSchema } from '../src/tasks/csv/options.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const root = resolve(args.get('root') ?? new URL('..', import.meta.url).pathname);
const rows = Number(args.get('rows') ?? 200_000);
const runs = Number(args.get('runs') ?? 5);
// Builds before the thread pool took the checker count alone (--legacy) or with CSV_UNIQUE_HEAP_MB.
const legacy = args.has('legacy');
const dist = pathToFileURL(join(root, 'dist/tasks/csv/')).href;
const { csvLimits } = (await import(`${dist}read/limits.js`)) as typeof import('../src/tasks/csv/read/limits.js');
const { sniffCsv } = (await import(`${dist}read/sniff.js`)) as typeof import('../src/tasks/csv/read/sniff.js');
const { validateInThreads } = (await import(`${dist}validate/parallel-validation.js`)) as typeof import('../src/tasks/csv/validate/parallel-validation.js');
const poolModule = (await import(`${dist}threads/csv-pool.js`).catch(() => undefined)) as typeof import('../src/tasks/csv/threads/csv-pool.js') | undefined;

const schema: TableSchema = {
  fields: [
    { name: 'id', type: 'integer' },
    { name: 'code', type: 'string', constraints: { pattern: '[A-Z]{2}-\\d{4}' } },
    { name: 'email', type: 'string', constraints: { pattern: '[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}' } },
    { name: 'country', type: 'string', constraints: { pattern: 'NO|PE|IT|UA|IN|CH|FR|DE|ES|PT' } },
    { name: 'day', type: 'date', format: '%d/%m/%Y' },
    { name: 'note', type: 'string' },
  ],
};

function generate(path: string): void {
  const countries = ['NO', 'PE', 'IT', 'UA', 'IN', 'CH', 'FR', 'DE', 'ES', 'PT'];
  const lines = ['id,code,email,country,day,note'];
  for (let row = 1; row <= rows; row += 1) {
    const code = row % 100 === 0 ? 'bad' : `${String.fromCharCode(65 + (row % 26))}${String.fromCharCode(65 + ((row >> 3) % 26))}-${String(row % 10_000).padStart(4, '0')}`;
    lines.push([row, code, `user${row}@example${row % 50}.com`, countries[row % 10], `${1 + (row % 28)}/${1 + (row % 12)}/2024`, `note ${row % 97}`].join(','));
  }
  writeFileSync(path, lines.join('\n') + '\n');
}

/** Wall seconds, and CPU seconds of the whole process (its threads included): CPU is what a loaded machine blurs least. */
async function once(file: string, dir: string, threads: number): Promise<{ wall: number; cpu: number }> {
  const pool = poolModule && new poolModule.CsvPool({ checkers: threads, validations: 1, analyses: 1, uniqueHeapMb: loadConfig({}).CSV_UNIQUE_HEAP_MB });
  const checkerOptions = (pool ?? (legacy ? threads : { threads, uniqueHeapMb: loadConfig({}).CSV_UNIQUE_HEAP_MB })) as Parameters<typeof validateInThreads>[5];
  const head = Buffer.alloc(csvLimits.headBytes);
  const fd = openSync(file, 'r');
  const got = readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  const format = sniffCsv({ bytes: head.subarray(0, got), gzip: false, complete: got < head.length });
  const validated = createWriteStream(join(dir, 'validated.csv'));
  const rejects = createWriteStream(join(dir, 'rejects.jsonl'));
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const counts = await validateInThreads(format, schema, createReadStream(file), { 'validated.csv': validated, 'rejects.jsonl': rejects }, new AbortController().signal, checkerOptions);
  const cpu = process.cpuUsage(cpuStart);
  const seconds = { wall: (performance.now() - start) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
  validated.end();
  rejects.end();
  await Promise.all([finished(validated), finished(rejects)]);
  await pool?.close();
  if (counts.rowsRead !== rows || counts.rowsRejected !== rows / 100) throw new Error(`unexpected counts ${JSON.stringify(counts)}`);
  return seconds;
}

const dir = mkdtempSync(join(tmpdir(), 'stageline-bench-patterns-'));
try {
  const file = join(dir, 'input.csv');
  generate(file);
  for (const threads of [1, Math.min(availableParallelism(), 4)]) {
    const times: { wall: number; cpu: number }[] = [];
    await once(file, dir, threads); // warm-up: thread start, JIT
    for (let i = 0; i < runs; i += 1) times.push(await once(file, dir, threads));
    const median = (key: 'wall' | 'cpu') => times.map((t) => t[key]).sort((a, b) => a - b)[Math.floor(runs / 2)]!.toFixed(3);
    const min = (key: 'wall' | 'cpu') => Math.min(...times.map((t) => t[key])).toFixed(3);
    console.log(`${root}: ${rows} rows, ${threads} checker(s): wall median ${median('wall')} s (min ${min('wall')}), CPU median ${median('cpu')} s (min ${min('cpu')})`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
