/**
 * `npm run bench:csv [-- --size-mb=N] [--rounds=N] [--peers=pandas,polars,duckdb,bare] [--pandas=no] [--keep=yes]`
 *
 * Generates an N MB CSV (default 500) with about 1% malformed rows in a temp dir, then runs each
 * contender in a process of its own, so peak RSS (maxRSS, all threads) is that run's own:
 *   - stageline validate + analyse: the tasks' compiled code over local file streams (bench/csv-run-stageline.ts,
 *     compiled and run with plain node, as the container runs: no TypeScript loader in its RSS);
 *   - pandas read_csv + describe (bench/csv-pandas.py, Debian's python3-pandas, installed when missing and root);
 *   - polars and DuckDB, reading the whole file and describing every column (bench/csv-peers.ts; installed on
 *     first use into a cache directory outside the repository, never dependencies of stageline);
 *   - bare csv-parse: arrays, no per-row work (the floor of a JavaScript CSV reader).
 * `--rounds` (default 3) runs every contender once per round, the order rotated each round, since this
 * machine's speed drifts; the table shows medians and ratios to pandas. The temp dir is removed afterwards
 * unless `--keep=yes`.
 */
import { execFileSync, type ExecFileSyncOptionsWithStringEncoding } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from './csv-runs.js';
import { benchSchema, generateBenchCsv } from './csv-peers-input.js';
import { ensureNodePeers, ensurePandas, pandasVersion, peerVersions, peersDir, runDuckDb, runPolars } from './csv-peers.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));

type Contender = 'stageline' | 'pandas' | 'polars' | 'duckdb' | 'bare';
/** Rows of the table: the contenders, and stageline's second job in the same process (`RunResult.next`). */
type Row = Contender | 'stageline next';
const labels: Record<Row, string> = {
  stageline: 'stageline validate + analyse (a fresh worker\'s first job)',
  'stageline next': 'stageline, the same file again (that worker\'s next job)',
  pandas: 'pandas read_csv + describe',
  polars: 'polars readCSV + describe',
  duckdb: 'DuckDB SUMMARIZE read_csv',
  bare: 'bare csv-parse (arrays, no stats)',
};
const peerNames: readonly Contender[] = ['pandas', 'polars', 'duckdb', 'bare'];

/** A peer's run under tsx, in this (child) process: prints its RunResult as the last line. */
async function runHere(run: string, file: string): Promise<RunResult> {
  if (run === 'polars') return runPolars(file);
  if (run === 'duckdb') return runDuckDb(file);
  // Loaded only here: csv-parse, which the other peers' RSS must not carry.
  const runs = await import('./csv-runs.js');
  if (run === 'bare') return runs.bare(file);
  throw new Error(`unknown run ${run}`);
}

const root = new URL('..', import.meta.url);
/** bench/csv-run-stageline.ts compiled into .bench/runs (once per bench): stageline's run needs no TypeScript loader. */
let stagelineRun: string | undefined;
function compiledStagelineRun(): string {
  if (!stagelineRun) {
    const tsc = join(createRequire(import.meta.url).resolve('typescript'), '../../bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', new URL('bench/tsconfig.runs.json', root).pathname], { stdio: 'inherit' });
    stagelineRun = new URL('.bench/runs/bench/csv-run-stageline.js', root).pathname;
  }
  return stagelineRun;
}

function child(who: Contender, file: string, dir: string): RunResult {
  // stderr is kept (shown only if the run fails): polars warns once per malformed chunk, hundreds of lines.
  const options: ExecFileSyncOptionsWithStringEncoding = { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] };
  try {
    const stdout =
      who === 'pandas'
        ? execFileSync('/usr/bin/python3', [new URL('./csv-pandas.py', import.meta.url).pathname, file], options)
        : who === 'stageline'
          ? execFileSync(process.execPath, [compiledStagelineRun(), `--file=${file}`, `--dir=${dir}`], { ...options, env: { ...process.env, STAGELINE_DIST: new URL('dist/', root).href } })
          : execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, `--run=${who}`, `--file=${file}`], options);
    return JSON.parse(stdout.trim().split('\n').pop()!) as RunResult;
  } catch (err) {
    process.stderr.write(String((err as { stderr?: unknown }).stderr ?? ''));
    throw err;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function main(): Promise<void> {
  const run = args.get('run');
  if (run) {
    console.log(JSON.stringify(await runHere(run, args.get('file')!)));
    return;
  }
  const mb = Number(args.get('size-mb') ?? 500);
  const rounds = Math.max(1, Number(args.get('rounds') ?? 3));
  const asked = (args.get('peers') ?? peerNames.join(',')).split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of asked) if (!peerNames.includes(p as Contender)) throw new Error(`--peers: unknown peer ${p} (known: ${peerNames.join(', ')})`);
  const peers = peerNames.filter((p) => asked.includes(p) && !(p === 'pandas' && args.get('pandas') === 'no'));
  const notes: string[] = [];
  if (peers.includes('pandas')) {
    const reason = ensurePandas();
    if (reason) {
      console.error(`pandas skipped: ${reason}`);
      notes.push(`pandas skipped: ${reason}`);
      peers.splice(peers.indexOf('pandas'), 1);
    } else notes.push(`pandas ${pandasVersion()} (/usr/bin/python3)`);
  }
  if (peers.includes('polars') || peers.includes('duckdb')) {
    ensureNodePeers();
    notes.push(`nodejs-polars ${peerVersions['nodejs-polars']}, @duckdb/node-api ${peerVersions['@duckdb/node-api']} (from ${peersDir})`);
  }
  const contenders: Contender[] = ['stageline', ...peers];

  const dir = mkdtempSync(join(tmpdir(), 'stageline-bench-csv-'));
  try {
    const file = join(dir, 'input.csv');
    console.error(`generating ${mb} MB in ${dir} ...`);
    await generateBenchCsv(file, mb);
    writeFileSync(join(dir, 'schema.json'), JSON.stringify(benchSchema));
    const size = statSync(file).size / 1e6;
    const rows: Row[] = ['stageline', 'stageline next', ...peers];
    const results = new Map<Row, RunResult[]>(rows.map((c) => [c, []]));
    for (let round = 0; round < rounds; round += 1) {
      // Rotated each round, so no contender always runs first (cold cache) or right after the heaviest.
      const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]!);
      for (const who of order) {
        const r = child(who, file, dir);
        for (const [row, result] of [[who, r], ...(r.next ? [['stageline next', r.next] as const] : [])] as const) {
          results.get(row)!.push(result);
          console.error(`round ${round + 1}/${rounds} ${labels[row]}: ${result.seconds.toFixed(1)} s, ${(result.maxRssKb / 1024).toFixed(0)} MB, load ${loadavg()[0]!.toFixed(2)}`);
        }
      }
    }
    const stage = results.get('stageline')![0]!;
    const pandas = results.get('pandas');
    const ref = pandas ? { seconds: median(pandas.map((r) => r.seconds)), rss: median(pandas.map((r) => r.maxRssKb)) } : undefined;
    console.log(`\nCSV bench: ${size.toFixed(0)} MB, ${stage.rows} rows (${stage.rejected} rejected by stageline), node ${process.version}, ${rounds} round(s), order rotated; medians`);
    for (const n of notes) console.log(`  ${n}`);
    console.log('');
    console.log('| run | rows kept | seconds (each round) | MB/s | speed × pandas | peak RSS MB (each round) | RSS × pandas | event loop p99 / max ms |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const who of rows) {
      const rs = results.get(who)!;
      const s = median(rs.map((r) => r.seconds));
      const rss = median(rs.map((r) => r.maxRssKb));
      const kept = who.startsWith('stageline') ? (rs[0]!.rows ?? 0) - (rs[0]!.rejected ?? 0) : rs[0]!.rows;
      const loop = rs[0]!.eventLoopP99Ms === undefined ? '' : `${median(rs.map((r) => r.eventLoopP99Ms!)).toFixed(1)} / ${median(rs.map((r) => r.eventLoopMaxMs!)).toFixed(1)}`;
      const each = (f: (r: RunResult) => string) => rs.map(f).join(', ');
      console.log(
        `| ${labels[who]} | ${kept ?? ''} | ${s.toFixed(1)} (${each((r) => r.seconds.toFixed(1))}) | ${(size / s).toFixed(1)} | ${ref ? (ref.seconds / s).toFixed(2) : ''} | ${(rss / 1024).toFixed(0)} (${each((r) => (r.maxRssKb / 1024).toFixed(0))}) | ${ref ? (rss / ref.rss).toFixed(2) : ''} | ${loop} |`,
      );
    }
  } finally {
    if (args.get('keep') !== 'yes') rmSync(dir, { recursive: true, force: true });
  }
}

await main();
