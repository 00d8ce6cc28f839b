/**
 * `npm run bench:csv [-- --size-mb N]`: generates an N MB CSV (default 500) with about 1% malformed rows
 * in a temp dir, then runs, each in its own process so peak RSS is its own: bare csv-parse (arrays, no
 * per-row work), stageline validation + analysis (the tasks' code, parsing thread included), and pandas
 * read_csv + describe. Prints a table; the temp dir is removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { bare, fileMb, readSchema, stageline, type RunResult } from './csv-runs.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));

const schema = {
  fields: [
    { name: 'id', type: 'integer', constraints: { required: true } },
    { name: 'name', type: 'string' },
    { name: 'price', type: 'number', constraints: { minimum: 0 } },
    { name: 'qty', type: 'integer' },
    { name: 'active', type: 'boolean' },
    { name: 'day', type: 'date' },
    { name: 'city', type: 'string' },
    { name: 'note', type: 'string' },
  ],
};

/** About 100 bytes a row; every 100th row broken: a bad number, a missing field, an extra one, a stray quote. */
async function generate(path: string, mb: number): Promise<void> {
  const out = createWriteStream(path);
  out.write('id,name,price,qty,active,day,city,note\n');
  const names = ['alice', 'bob', 'carol', 'dave', 'eve', 'frank'];
  let bytes = 0;
  let row = 0;
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  while (bytes < mb * 1e6) {
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i += 1) {
      row += 1;
      const cells = [String(row), names[row % 6]!, (rnd() * 1000).toFixed(2), String(Math.floor(rnd() * 500)), row % 2 ? 'true' : 'false', `2024-${String(1 + (row % 12)).padStart(2, '0')}-${String(1 + (row % 28)).padStart(2, '0')}`, `city-${Math.floor(rnd() * 5000)}`, `"note ${row % 97}, with a comma"`];
      if (row % 100 === 0) {
        const kind = (row / 100) % 4;
        if (kind === 0) cells[2] = 'n/a';
        else if (kind === 1) cells.pop();
        else if (kind === 2) cells.push('extra');
        else cells[1] = 'bad"quote';
      }
      lines.push(cells.join(','));
    }
    const chunk = lines.join('\n') + '\n';
    bytes += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

function child(mode: string, file: string, dir: string): RunResult {
  const stdout = execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, `--run=${mode}`, `--file=${file}`, `--dir=${dir}`], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as RunResult;
}

async function main(): Promise<void> {
  const run = args.get('run');
  if (run) {
    const file = args.get('file')!;
    const dir = args.get('dir')!;
    const result = run === 'bare' ? await bare(file) : await stageline(file, readSchema(join(dir, 'schema.json')), dir);
    console.log(JSON.stringify(result));
    return;
  }
  const mb = Number(args.get('size-mb') ?? 500);
  const dir = mkdtempSync(join(tmpdir(), 'stageline-bench-csv-'));
  try {
    const file = join(dir, 'input.csv');
    console.error(`generating ${mb} MB in ${dir} ...`);
    await generate(file, mb);
    writeFileSync(join(dir, 'schema.json'), JSON.stringify(schema));
    const size = fileMb(file);
    const rows: [string, RunResult][] = [];
    console.error('bare csv-parse ...');
    rows.push(['bare csv-parse (arrays)', child('bare', file, dir)]);
    console.error('stageline validate + analyse ...');
    rows.push(['stageline validate + analyse', child('stageline', file, dir)]);
    if (args.get('pandas') !== 'no') {
      console.error('pandas ...');
      const out = execFileSync('/usr/bin/python3', [new URL('./csv-pandas.py', import.meta.url).pathname, file], { encoding: 'utf8' });
      rows.push(['pandas read_csv + describe', JSON.parse(out.trim()) as RunResult]);
    }
    const baseline = rows[0]![1];
    console.log(`\nCSV bench: ${size.toFixed(0)} MB, ${rows[1]![1].rows} rows (${rows[1]![1].rejected} rejected), node ${process.version}\n`);
    console.log('| run | seconds | MB/s | × bare | peak RSS MB | event loop p99 / max ms |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const [name, r] of rows) {
      const loop = r.eventLoopP99Ms === undefined ? '' : `${r.eventLoopP99Ms.toFixed(1)} / ${r.eventLoopMaxMs!.toFixed(1)}`;
      console.log(`| ${name} | ${r.seconds.toFixed(1)} | ${(size / r.seconds).toFixed(1)} | ${(baseline.seconds / r.seconds).toFixed(2)} | ${(r.maxRssKb / 1024).toFixed(0)} | ${loop} |`);
    }
  } finally {
    if (args.get('keep') !== 'yes') rmSync(dir, { recursive: true, force: true });
  }
}

await main();
