/**
 * The peers of `npm run bench:csv` besides bare csv-parse and stageline: pandas (Debian's python3-pandas),
 * polars (nodejs-polars) and DuckDB (@duckdb/node-api). Each does pandas's work: read the whole file,
 * skipping the lines it cannot read, and compute describe-like statistics of every column. Each runs in
 * a process of its own (bench/csv.ts starts them), so its peak RSS is its own.
 *
 * polars and DuckDB are not dependencies of stageline: the bench installs them on first use, pinned, into
 * a cache directory outside the repository (`$XDG_CACHE_HOME/stageline-bench-peers`, else
 * `~/.cache/stageline-bench-peers`) and loads them from there by path.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from './csv-runs.js';

export const peerVersions = { 'nodejs-polars': '0.26.1', '@duckdb/node-api': '1.5.6-r.1' } as const;

export const peersDir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'stageline-bench-peers');

/** pandas's default NA strings that occur in the bench's file: every peer reads them as missing, as pandas does. */
const naStrings = ['', 'NA', 'N/A', 'n/a', 'NaN', 'null'];

const installedVersion = (pkg: string): string | undefined => {
  const path = join(peersDir, 'node_modules', pkg, 'package.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version : undefined;
};

/** Installs the pinned polars and DuckDB into `peersDir` unless they are there already. */
export function ensureNodePeers(): void {
  const missing = Object.entries(peerVersions).filter(([pkg, v]) => installedVersion(pkg) !== v);
  if (missing.length === 0) return;
  mkdirSync(peersDir, { recursive: true });
  // Its own package.json, so npm installs here and never walks up into a project around it.
  if (!existsSync(join(peersDir, 'package.json'))) writeFileSync(join(peersDir, 'package.json'), '{ "name": "stageline-bench-peers", "private": true }\n');
  const specs = Object.entries(peerVersions).map(([pkg, v]) => `${pkg}@${v}`);
  // npm skips nodejs-polars's native optional dependency on Node 20 (that package's engines say >= 22, yet it
  // loads and runs on 20: measured); named explicitly, it installs with a warning.
  if (process.platform === 'linux' && process.arch === 'x64' && isGlibc()) specs.push(`nodejs-polars-linux-x64-gnu@${peerVersions['nodejs-polars']}`);
  console.error(`installing ${specs.join(' ')} into ${peersDir} (first use) ...`);
  execFileSync('npm', ['install', '--prefix', peersDir, '--no-audit', '--no-fund', '--engine-strict=false', ...specs], { stdio: ['ignore', 'inherit', 'inherit'] });
}

function isGlibc(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return typeof report?.header?.glibcVersionRuntime === 'string';
}

/**
 * Whether /usr/bin/python3 can import pandas; if not and this process is root, installs Debian's
 * python3-pandas (apt-get update first when the package list does not know it). Returns the reason to
 * skip pandas, or undefined when it can run.
 */
export function ensurePandas(): string | undefined {
  const python = '/usr/bin/python3';
  const importsPandas = () => spawnSync(python, ['-c', 'import pandas'], { stdio: 'ignore' }).status === 0;
  if (!existsSync(python)) return `${python} does not exist`;
  if (importsPandas()) return undefined;
  if (process.getuid?.() !== 0) return `${python} cannot import pandas and this is not root (apt-get install python3-pandas)`;
  console.error('pandas missing: apt-get install -y python3-pandas ...');
  const apt = (args: string[]) => spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
  if (!apt(['install', '-y', 'python3-pandas'])) apt(['update']) && apt(['install', '-y', 'python3-pandas']);
  return importsPandas() ? undefined : 'apt-get install -y python3-pandas did not give a python3 that imports pandas';
}

export const pandasVersion = (): string => execFileSync('/usr/bin/python3', ['-c', 'import pandas; print(pandas.__version__)'], { encoding: 'utf8' }).trim();

/** The parts of nodejs-polars this bench calls (it is not a dependency, so its own types are not at hand). */
interface PlSeries {
  readonly name: string;
  isNumeric(): boolean;
  len(): number;
  nullCount(): number;
  nUnique(): number;
  quantile(q: number): number;
  valueCounts(sort?: boolean): PlFrame;
}
interface PlFrame {
  readonly height: number;
  readonly columns: string[];
  getColumn(name: string): PlSeries;
  describe(): PlFrame;
  head(n: number): PlFrame;
  toRecords(): Record<string, unknown>[];
}
interface Polars {
  readCSV(path: string, options: { ignoreErrors: boolean; truncateRaggedLines: boolean; nullValues: string[]; inferSchemaLength: number }): PlFrame;
}

/**
 * polars: readCSV into one DataFrame (as pandas's read_csv), then describe() (mean, std, min, max, median)
 * and per column what pandas's describe(include="all") adds: count, quartiles of numbers; unique, top and
 * freq of strings. polars has no "skip bad lines": ragged lines are cut or padded and unreadable values
 * become null (ignoreErrors), so its row count includes the rows pandas skips.
 */
export function runPolars(file: string): RunResult {
  const pl = createRequire(join(peersDir, 'package.json'))('nodejs-polars') as Polars;
  const start = performance.now();
  const df = pl.readCSV(file, { ignoreErrors: true, truncateRaggedLines: true, nullValues: naStrings, inferSchemaLength: 10_000 });
  const stats: Record<string, unknown> = { describe: df.describe().toRecords() };
  for (const name of df.columns) {
    const s = df.getColumn(name);
    stats[name] = s.isNumeric()
      ? { count: s.len() - s.nullCount(), q25: s.quantile(0.25), q75: s.quantile(0.75) }
      : { count: s.len() - s.nullCount(), unique: s.nUnique(), top: s.valueCounts(true).head(1).toRecords()[0] };
  }
  const seconds = (performance.now() - start) / 1000;
  if (Object.keys(stats).length !== df.columns.length + 1) throw new Error('polars described no columns');
  return { seconds, maxRssKb: process.resourceUsage().maxRSS, rows: df.height };
}

/** The parts of @duckdb/node-api this bench calls. */
interface DuckReader {
  getRowObjectsJson(): Record<string, unknown>[];
  getRowsJson(): unknown[][];
}
interface DuckConnection {
  runAndReadAll(sql: string): Promise<DuckReader>;
  closeSync(): void;
}
interface DuckDb {
  DuckDBInstance: { create(path: string): Promise<{ connect(): Promise<DuckConnection>; closeSync(): void }> };
}

/**
 * DuckDB: SUMMARIZE over read_csv (min, max, approximate distinct count, mean, std, quartiles, count, null
 * share of every column) with ignore_errors, which skips the rows it cannot read as pandas does. DuckDB
 * streams the file through the aggregates rather than holding it as one table, and uses every core; its
 * quartiles and distinct counts are approximate (pandas's are exact). The row count is a second pass.
 */
export async function runDuckDb(file: string): Promise<RunResult> {
  const duck = createRequire(join(peersDir, 'package.json'))('@duckdb/node-api') as DuckDb;
  const start = performance.now();
  const instance = await duck.DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  const source = `read_csv('${file.replaceAll("'", "''")}', header = true, ignore_errors = true, nullstr = [${naStrings.map((s) => `'${s}'`).join(', ')}])`;
  const summary = (await con.runAndReadAll(`SUMMARIZE SELECT * FROM ${source}`)).getRowObjectsJson();
  const seconds = (performance.now() - start) / 1000;
  const rows = Number((await con.runAndReadAll(`SELECT count(*) FROM ${source}`)).getRowsJson()[0]?.[0]);
  con.closeSync();
  instance.closeSync();
  if (summary.length === 0) throw new Error('DuckDB described no columns');
  return { seconds, maxRssKb: process.resourceUsage().maxRSS, rows };
}
