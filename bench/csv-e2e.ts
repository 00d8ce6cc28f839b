/**
 * `npm run bench:csv-e2e [-- --size-mb=200] [--rounds=1] [--pandas=no] [--probe=yes] [--keep=yes]
 *     [--root=DIR] [--fauxqs=DIR] [--fauxqs-node=PATH] [--worker-node-args="--max-semi-space-size=8"]`
 *
 * One large CSV job end to end through the real worker, beside pandas on the same local file. Per round:
 *   1. fauxqs starts in a process of its own (the bucket, three stage queues with DLQs, the events queue:
 *      the layout of src/cli/emulator.ts), so the objects it holds in memory are not the worker's;
 *   2. the worker starts in a process of its own: `node ROOT/bin/stageline.js worker` (the compiled build, as
 *      the container runs it; ROOT defaults to this checkout, `--root` names another built tree);
 *   3. the bench uploads the N MB CSV of bench:csv (bench/csv-peers-input.ts, multipart), sends a job request
 *      with the bench's inline schema, and waits for the job's `job.succeeded` on the events queue;
 *   4. pandas read_csv + describe runs on the same local file (bench/csv-pandas.py), alone.
 * Reported: wall time from the send to the event, the worker process's peak RSS (VmHWM of /proc/PID/status,
 * all threads), its RSS sampled every 100 ms with the peak per stage (stage ends from the worker's own log
 * lines), and fauxqs's peak RSS apart. `--probe=yes` also loads a sampler into every thread of the worker
 * (`--import`, which Node carries into file-based worker threads): each thread's V8 heap and external
 * memory every 100 ms, summarised per thread role (main, read, check, analyse).
 * `--fauxqs=DIR` runs the fauxqs installed in DIR/node_modules (another version) with `--fauxqs-node`.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Upload } from '@aws-sdk/lib-storage';
import { benchSchema, generateBenchCsv } from './csv-peers-input.js';
import { ensurePandas, pandasVersion } from './csv-peers.js';

const args = new Map(process.argv.slice(2).map((a) => { const i = a.indexOf('='); return i < 0 ? [a.replace(/^--/, ''), ''] : [a.slice(0, i).replace(/^--/, ''), a.slice(i + 1)]; }));
const mb = Number(args.get('size-mb') ?? 200);
const rounds = Math.max(1, Number(args.get('rounds') ?? 1));
const root = resolve(args.get('root') ?? new URL('..', import.meta.url).pathname);
// `--fauxqs=in-process` runs `stageline local` instead (the emulator, the worker and the dashboard in one
// process, as a developer trying a large file locally would): the objects fauxqs holds count in that RSS.
const inProcess = args.get('fauxqs') === 'in-process';
const fauxqsDir = resolve(inProcess ? root : (args.get('fauxqs') ?? root));
const fauxqsNode = args.get('fauxqs-node') ?? process.execPath;
const workerNodeArgs = (args.get('worker-node-args') ?? '').split(' ').filter(Boolean);
const probe = args.get('probe') === 'yes';
// The image's glibc malloc settings (ENV MALLOC_* in the Dockerfile), so the worker's RSS is the container's.
const dockerfile = join(root, 'Dockerfile');
const imageEnv: Record<string, string> = existsSync(dockerfile)
  ? Object.fromEntries([...readFileSync(dockerfile, 'utf8').matchAll(/^\s*(?:ENV\s+)?(MALLOC_\w+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!]))
  : {};

/**
 * fauxqs in its own process, set up as src/cli/emulator.ts sets it up (that module imports the fauxqs of
 * the repository; this one loads the one in FAUXQS_MODULE, so another version can be measured). Prints the
 * addresses as one JSON line, then serves until killed.
 */
const fauxqsServer = `
const { startFauxqs } = await import(process.env.FAUXQS_MODULE);
const server = await startFauxqs({ port: 0, logger: false });
server.createBucket('stageline');
const queues = {};
for (const stage of ['ingestion', 'validation', 'analysis']) {
  const dlq = server.createQueue('stageline-' + stage + '-dlq', { attributes: { MessageRetentionPeriod: '1209600' } });
  const q = server.createQueue('stageline-' + stage, { attributes: { VisibilityTimeout: '30', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: '5' }) } });
  queues[stage] = q.queueUrl;
}
const events = server.createQueue('stageline-events');
console.log(JSON.stringify({ endpoint: server.address, queues, events: events.queueUrl }));
`;

/**
 * The per-thread sampler (--probe=yes), preloaded with --import into the worker's main thread and each of
 * its file-based CSV threads: process.memoryUsage() there gives that isolate's heap and external memory.
 */
const probeModule = `data:text/javascript,${encodeURIComponent(`
import { appendFileSync } from 'node:fs';
import { isMainThread, threadId, workerData } from 'node:worker_threads';
const file = process.env.STAGELINE_BENCH_PROBE;
if (file) {
  const role = isMainThread ? 'main' : String(workerData?.mode ?? 'thread');
  const sample = () => {
    const m = process.memoryUsage();
    appendFileSync(file, JSON.stringify({ t: Date.now(), thread: threadId, role, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers }) + '\\n');
  };
  sample();
  setInterval(sample, 100).unref();
}
`)}`;

interface Emulator {
  endpoint: string;
  queues: Record<'ingestion' | 'validation' | 'analysis', string>;
  events: string;
}

interface ProbeSample {
  t: number;
  thread: number;
  role: string;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

interface RoundResult {
  seconds: number;
  uploadSeconds: number;
  peakRssMb: number;
  fauxqsPeakRssMb: number;
  stages: { stage: string; seconds: number; peakRssMb: number; endRssMb: number }[];
  probe: ProbeSample[];
  /** --probe=yes: the worker's mappings at its highest sampled RSS, resident kB by kind (smapsKinds). */
  mapsAtPeak?: { rssKb: number; kinds: Map<string, number> };
  pandas?: { seconds: number; maxRssKb: number };
}

/**
 * The worker's resident memory by kind of mapping (/proc/PID/smaps), to tell V8's heap pages from malloc's
 * arenas, big single allocations and the binary. glibc's thread arenas are 64 MiB-aligned mmaps; V8 (Node
 * 20, no pointer compression) maps its heap in 256 KiB pages; malloc serves a large request (an ArrayBuffer's
 * backing store) with an mmap of its own only while it is above its mmap threshold, which glibc raises to
 * the size of the last such block freed (up to 32 MiB).
 */
function smapsKinds(pid: number): Map<string, number> {
  const kinds = new Map<string, number>();
  let kind = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const start = BigInt(`0x${head[1]}`);
      const size = Number(BigInt(`0x${head[2]}`) - start);
      const path = head[3] ?? '';
      if (path === '[heap]') kind = 'brk heap (main malloc arena)';
      else if (path.startsWith('[stack') || path === '[vdso]' || path === '[vvar]') kind = 'stacks, vdso';
      else if (path !== '') kind = 'file-backed (node binary, libraries)';
      else if (start % 0x4000000n === 0n && size <= 0x4000000) kind = 'anon, 64 MiB-aligned (glibc thread arenas)';
      else if (size === 256 * 1024) kind = 'anon, 256 KiB (V8 heap pages)';
      else if (size < 1024 * 1024) kind = 'anon, other < 1 MiB';
      else if (size < 16 * 1024 * 1024) kind = 'anon, 1-16 MiB (large buffers, V8 large objects)';
      else kind = 'anon, >= 16 MiB (V8 reservations, large buffers)';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && kind) kinds.set(kind, (kinds.get(kind) ?? 0) + Number(rss[1]));
  }
  return kinds;
}

const kb = (status: string, field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
const procStatus = (pid: number): string => readFileSync(`/proc/${pid}/status`, 'utf8');

/** A child's stdout as lines: handed to every listener, the last 2,000 kept for a failure message. */
class LineTap {
  readonly kept: string[] = [];
  private readonly listeners = new Set<(line: string) => void>();

  constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.kept.push(line);
      if (this.kept.length > 2000) this.kept.shift();
      for (const l of this.listeners) l(line);
    });
  }

  on(listener: (line: string) => void): void {
    this.listeners.add(listener);
  }

  until(test: (line: string) => boolean, what: string, timeoutMs: number): Promise<string> {
    return new Promise<string>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: not seen within ${timeoutMs} ms`)), timeoutMs);
      this.child.once('exit', (code) => reject(new Error(`${what}: the process exited (${code}) first`)));
      const listener = (line: string) => {
        if (!test(line)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolvePromise(line);
      };
      this.on(listener);
    });
  }
}

async function startFauxqs(): Promise<{ child: ChildProcess; emulator: Emulator }> {
  const module = join(fauxqsDir, 'node_modules/fauxqs/dist/app.js');
  if (!existsSync(module)) throw new Error(`no fauxqs at ${module}`);
  const child = spawn(fauxqsNode, ['--input-type=module', '-e', fauxqsServer], { env: { ...process.env, FAUXQS_MODULE: pathToFileURL(module).href }, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new LineTap(child).until((l) => l.startsWith('{'), 'fauxqs start', 30_000);
  return { child, emulator: JSON.parse(line) as Emulator };
}

/** `stageline local` (emulator + worker + dashboard in one process); its addresses come as `export` lines on stderr. */
async function startLocal(extraEnv: Record<string, string>): Promise<{ child: ChildProcess; emulator: Emulator }> {
  const child = spawn(process.execPath, [...workerNodeArgs, ...(probe ? ['--import', probeModule] : []), join(root, 'bin/stageline.js'), 'local'], {
    env: { ...process.env, ...imageEnv, ...extraEnv, LOCAL_PORT: '0', DASHBOARD_PORT: '0', HTTP_PORT: '0', LOG_LEVEL: 'info', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exported = new Map<string, string>();
  await new Promise<void>((resolvePromise, reject) => {
    child.once('exit', (code) => reject(new Error(`stageline local exited (${code}) before it printed its exports`)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const m = /^\s+export (\w+)=(.*)$/.exec(line);
      if (m) exported.set(m[1]!, m[2]!);
      else if (exported.size === 0) process.stderr.write(line + '\n');
      if (line.includes('stageline submit FILE')) resolvePromise();
    });
  });
  const need = (k: string) => exported.get(k) ?? '';
  return { child, emulator: { endpoint: need('AWS_ENDPOINT_URL'), queues: { ingestion: need('SQS_INGESTION_QUEUE_URL'), validation: need('SQS_VALIDATION_QUEUE_URL'), analysis: need('SQS_ANALYSIS_QUEUE_URL') }, events: need('SQS_EVENTS_QUEUE_URL') } };
}

async function runRound(file: string, dir: string, round: number): Promise<RoundResult> {
  const probeFile = join(dir, `probe-${round}.jsonl`);
  const probeEnv: Record<string, string> = probe ? { STAGELINE_BENCH_PROBE: probeFile } : {};
  let fauxqs: ChildProcess | undefined;
  let local: ChildProcess | undefined;
  let emulator: Emulator;
  if (inProcess) ({ child: local, emulator } = await startLocal(probeEnv));
  else ({ child: fauxqs, emulator } = await startFauxqs());
  const env: Record<string, string> = {
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: emulator.endpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    S3_BUCKET: 'stageline',
    SQS_INGESTION_QUEUE_URL: emulator.queues.ingestion,
    SQS_VALIDATION_QUEUE_URL: emulator.queues.validation,
    SQS_ANALYSIS_QUEUE_URL: emulator.queues.analysis,
    SQS_EVENTS_QUEUE_URL: emulator.events,
  };
  const clientConfig = { region: 'us-east-1', endpoint: emulator.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
  const s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
  const sqs = new SQSClient(clientConfig);
  const jobId = `e2e-${round}-${Date.now()}`;
  const key = `uploads/${jobId}/input.csv`;
  let worker: ChildProcess | undefined = local;
  let sampler: NodeJS.Timeout | undefined;
  try {
    const up0 = performance.now();
    await new Upload({ client: s3, params: { Bucket: 'stageline', Key: key, Body: createReadStream(file), ContentType: 'text/csv' }, partSize: 8 * 1024 * 1024, queueSize: 4 }).done();
    const uploadSeconds = (performance.now() - up0) / 1000;

    worker ??= spawn(process.execPath, [...workerNodeArgs, ...(probe ? ['--import', probeModule] : []), join(root, 'bin/stageline.js'), 'worker'], {
      env: { ...process.env, ...imageEnv, ...env, HTTP_PORT: '0', LOG_LEVEL: 'info', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...probeEnv },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pid = worker.pid!;
    const stageEnds: { stage: string; at: number }[] = [];
    const tap = new LineTap(worker);
    const log = tap.kept;
    tap.on((line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; stage?: string; time?: number; jobId?: string };
      if (entry.jobId === jobId && (entry.msg === 'stage succeeded; job sent on' || entry.msg === 'job succeeded') && entry.stage && entry.time) stageEnds.push({ stage: entry.stage, at: entry.time });
    });
    // `stageline local` logged its start before the upload: the tap would wait for it in vain.
    if (!local) await tap.until((l) => l.includes('"worker started"'), 'worker start', 60_000);
    const timeline: { t: number; rssKb: number }[] = [];
    let mapsAtPeak: RoundResult['mapsAtPeak'];
    sampler = setInterval(() => {
      try {
        const rssKb = kb(procStatus(pid), 'VmRSS');
        timeline.push({ t: Date.now(), rssKb });
        // Read smaps only on a new high (by 2 MB): it costs a few ms of this process, none of the worker's.
        if (probe && rssKb > (mapsAtPeak?.rssKb ?? 0) + 2048) mapsAtPeak = { rssKb, kinds: smapsKinds(pid) };
      } catch {
        // The worker exited between two samples: its end is reported by the wait below.
      }
    }, 100);
    const rssAtStartKb = kb(procStatus(pid), 'VmRSS');

    const sentAt = Date.now();
    const t0 = performance.now();
    await sqs.send(new SendMessageCommand({ QueueUrl: emulator.queues.ingestion, MessageBody: JSON.stringify({ jobId, kind: 'csv', input: { key }, csv: { schema: benchSchema } }) }));
    let seconds = NaN;
    for (let outcome: string | undefined; outcome === undefined; ) {
      if (worker.exitCode !== null) throw new Error(`worker exited (${worker.exitCode}); last log lines:\n${log.slice(-20).join('\n')}`);
      if (performance.now() - t0 > 30 * 60_000) throw new Error('job not finished after 30 minutes');
      const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: emulator.events, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }));
      for (const m of res.Messages ?? []) {
        const event = JSON.parse(m.Body ?? '{}') as { type?: string; jobId?: string };
        if (event.jobId !== jobId || (event.type !== 'job.succeeded' && event.type !== 'job.failed')) continue;
        seconds = (performance.now() - t0) / 1000;
        outcome = event.type;
      }
      if (outcome === 'job.failed') throw new Error(`job failed; last log lines:\n${log.slice(-20).join('\n')}`);
    }
    clearInterval(sampler);
    const peakRssMb = kb(procStatus(pid), 'VmHWM') / 1024;
    const fauxqsPeakRssMb = fauxqs ? kb(procStatus(fauxqs.pid!), 'VmHWM') / 1024 : NaN;
    // Wait briefly for the last stage's log line, written right after its event is sent.
    for (let i = 0; i < 20 && stageEnds.length < 3; i += 1) await new Promise((r) => setTimeout(r, 50));
    const stages: RoundResult['stages'] = [];
    let from = sentAt;
    for (const { stage, at } of stageEnds) {
      const inStage = timeline.filter((s) => s.t >= from && s.t <= at);
      stages.push({ stage, seconds: (at - from) / 1000, peakRssMb: Math.max(rssAtStartKb, ...inStage.map((s) => s.rssKb)) / 1024, endRssMb: (inStage.at(-1)?.rssKb ?? NaN) / 1024 });
      from = at;
    }
    stages.unshift({ stage: 'idle worker, before the send', seconds: 0, peakRssMb: rssAtStartKb / 1024, endRssMb: rssAtStartKb / 1024 });
    const samples = probe && existsSync(probeFile) ? readFileSync(probeFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ProbeSample) : [];
    return { seconds, uploadSeconds, peakRssMb, fauxqsPeakRssMb, stages, probe: samples, ...(mapsAtPeak ? { mapsAtPeak } : {}) };
  } finally {
    if (sampler) clearInterval(sampler);
    worker?.kill('SIGKILL');
    fauxqs?.kill('SIGKILL');
    s3.destroy();
    sqs.destroy();
  }
}

function runPandas(file: string): { seconds: number; maxRssKb: number } {
  const out = execFileSync('/usr/bin/python3', [new URL('./csv-pandas.py', import.meta.url).pathname, file], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as { seconds: number; maxRssKb: number };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const mbOf = (bytes: number) => bytes / 1024 / 1024;

function probeSummary(samples: ProbeSample[]): void {
  if (samples.length === 0) return;
  const t0 = samples[0]!.t;
  console.log('\nPer thread (--probe=yes, last round): peaks over the job of what each isolate holds, MB');
  console.log('| thread role | threads seen | heapTotal max | heapUsed max | external max | arrayBuffers max |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  const roles = [...new Set(samples.map((s) => s.role))];
  for (const role of roles) {
    const of = samples.filter((s) => s.role === role);
    const max = (f: (s: ProbeSample) => number) => mbOf(Math.max(...of.map(f))).toFixed(0);
    console.log(`| ${role} | ${new Set(of.map((s) => s.thread)).size} | ${max((s) => s.heapTotal)} | ${max((s) => s.heapUsed)} | ${max((s) => s.external)} | ${max((s) => s.arrayBuffers)} |`);
  }
  // What the process holds at its RSS peak: each live thread's heap and external memory (its last sample at
  // or before the peak); the rest is not V8's: the binary and its libraries, thread stacks, malloc's arenas.
  const peak = samples.reduce((a, x) => (x.rss > a.rss ? x : a));
  const live = new Map<number, ProbeSample>();
  // A thread's sampler is a timer on its own event loop, late while that thread is busy: a second's window.
  for (const x of samples) if (x.t <= peak.t && x.t > peak.t - 1000) live.set(x.thread, x);
  const parts = [...live.values()].sort((a, b) => a.thread - b.thread);
  const v8 = parts.reduce((a, x) => a + x.heapTotal + x.external, 0);
  console.log(`\nAt the RSS peak (${mbOf(peak.rss).toFixed(0)} MB, ${((peak.t - t0) / 1000).toFixed(1)} s): ${parts.map((x) => `${x.role}#${x.thread} heap ${mbOf(x.heapTotal).toFixed(0)} + external ${mbOf(x.external).toFixed(0)}`).join('; ')}; V8 total ${mbOf(v8).toFixed(0)} MB, the rest ${mbOf(peak.rss - v8).toFixed(0)} MB`);
  // A coarse timeline: every second, the process RSS and each role's heapTotal + external summed over its threads.
  console.log('\nTimeline (s since the first sample; MB): process RSS, then per role heapTotal+external summed over live threads');
  const seconds = Math.ceil((samples.at(-1)!.t - t0) / 1000);
  const step = Math.max(1, Math.ceil(seconds / 40));
  console.log(`| s | rss | ${roles.join(' | ')} |`);
  console.log(`| ---: | ---: | ${roles.map(() => '---:').join(' | ')} |`);
  for (let s = 0; s <= seconds; s += step) {
    const window = samples.filter((x) => x.t - t0 >= s * 1000 && x.t - t0 < (s + step) * 1000);
    if (window.length === 0) continue;
    const rss = Math.max(...window.map((x) => x.rss));
    const perRole = roles.map((role) => {
      const last = new Map<number, ProbeSample>();
      for (const x of window) if (x.role === role) last.set(x.thread, x);
      return last.size === 0 ? '' : mbOf([...last.values()].reduce((a, x) => a + x.heapTotal + x.external, 0)).toFixed(0);
    });
    console.log(`| ${s} | ${mbOf(rss).toFixed(0)} | ${perRole.join(' | ')} |`);
  }
}

async function main(): Promise<void> {
  const pandasReason = args.get('pandas') === 'no' ? 'skipped (--pandas=no)' : ensurePandas();
  const version = (dir: string, pkg: string): string => (JSON.parse(readFileSync(join(dir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  const fauxqsVersion = version(fauxqsDir, 'fauxqs');
  const fauxqsNodeVersion = execFileSync(fauxqsNode, ['--version'], { encoding: 'utf8' }).trim();
  console.log(`stageline bench:csv-e2e — ${new Date().toISOString()}; ${cpus().length} cores; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`worker: node ${process.version} ${workerNodeArgs.join(' ')} ${join(root, 'bin/stageline.js')} ${inProcess ? 'local' : 'worker'} (CSV_THREADS ${process.env.CSV_THREADS ?? 'default'}; ${Object.entries(imageEnv).map(([k, v]) => `${k}=${v}`).join(' ') || 'no MALLOC_ settings'} from the Dockerfile)${probe ? ', with the per-thread probe' : ''}`);
  const where = inProcess ? 'in the worker\'s process (`stageline local`: emulator + worker + dashboard)' : `in its own process (node ${fauxqsNodeVersion})`;
  console.log(`fauxqs ${fauxqsVersion} ${where}; ${pandasReason ?? `pandas ${pandasVersion()}`}`);
  const dir = mkdtempSync(join(tmpdir(), 'stageline-bench-e2e-'));
  try {
    const file = join(dir, 'input.csv');
    console.error(`generating ${mb} MB in ${dir} ...`);
    await generateBenchCsv(file, mb);
    const size = statSync(file).size / 1e6;
    const results: RoundResult[] = [];
    for (let round = 1; round <= rounds; round += 1) {
      // pandas first on odd rounds and last on even ones: neither always runs on the colder machine.
      const pandasFirst = round % 2 === 1 && !pandasReason;
      const before = pandasFirst ? runPandas(file) : undefined;
      const r = await runRound(file, dir, round);
      const pandas = pandasReason ? undefined : (before ?? runPandas(file));
      if (pandas) r.pandas = pandas;
      results.push(r);
      console.error(`round ${round}: worker ${r.seconds.toFixed(1)} s, peak RSS ${r.peakRssMb.toFixed(0)} MB; pandas ${pandas ? `${pandas.seconds.toFixed(1)} s, ${(pandas.maxRssKb / 1024).toFixed(0)} MB` : '-'}`);
    }
    const workerS = median(results.map((r) => r.seconds));
    const workerRss = median(results.map((r) => r.peakRssMb));
    const pandasRuns = results.flatMap((r) => (r.pandas ? [r.pandas] : []));
    const pandasS = pandasRuns.length ? median(pandasRuns.map((p) => p.seconds)) : NaN;
    const pandasRss = pandasRuns.length ? median(pandasRuns.map((p) => p.maxRssKb / 1024)) : NaN;
    const each = (f: (r: RoundResult) => number, digits: number) => results.map((r) => f(r).toFixed(digits)).join(', ');
    console.log(`\n${size.toFixed(0)} MB CSV, ${rounds} round(s), medians (each round in brackets); bench's upload to fauxqs before the clock: ${each((r) => r.uploadSeconds, 1)} s\n`);
    console.log('| run | seconds | MB/s | speed × pandas | peak RSS MB | goal |');
    console.log('| --- | ---: | ---: | ---: | ---: | --- |');
    console.log(`| worker: send → job.succeeded (ingestion, validation, analysis; S3 on fauxqs) | ${workerS.toFixed(1)} (${each((r) => r.seconds, 1)}) | ${(size / workerS).toFixed(1)} | ${(pandasS / workerS).toFixed(2)} | ${workerRss.toFixed(0)} (${each((r) => r.peakRssMb, 0)}) | ≤ 1.0× pandas time ${workerS <= pandasS ? '✓' : '✗'}, ≤ 300 MB ${workerRss <= 300 ? '✓' : '✗'} |`);
    if (pandasRuns.length) console.log(`| pandas read_csv + describe, local file | ${pandasS.toFixed(1)} (${pandasRuns.map((p) => p.seconds.toFixed(1)).join(', ')}) | ${(size / pandasS).toFixed(1)} | 1.00 | ${pandasRss.toFixed(0)} |  |`);
    if (!inProcess) console.log(`| (fauxqs process, apart: holds the objects) |  |  |  | ${median(results.map((r) => r.fauxqsPeakRssMb)).toFixed(0)} |  |`);
    const last = results.at(-1)!;
    console.log('\nWorker by stage (last round; a stage runs from the previous one\'s end to its own "stage succeeded" log line)\n');
    console.log('| stage | seconds | peak RSS MB in the stage | RSS MB at its end |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const s of last.stages) console.log(`| ${s.stage} | ${s.seconds.toFixed(1)} | ${s.peakRssMb.toFixed(0)} | ${s.endRssMb.toFixed(0)} |`);
    probeSummary(last.probe);
    if (last.mapsAtPeak) {
      console.log(`\nThe worker's resident memory by mapping at its highest sample (${(last.mapsAtPeak.rssKb / 1024).toFixed(0)} MB, /proc/PID/smaps)\n`);
      console.log('| mappings | resident MB |');
      console.log('| --- | ---: |');
      for (const [kind, kB] of [...last.mapsAtPeak.kinds].sort((a, b) => b[1] - a[1])) console.log(`| ${kind} | ${(kB / 1024).toFixed(0)} |`);
    }
  } finally {
    if (args.get('keep') !== 'yes') rmSync(dir, { recursive: true, force: true });
  }
}

await main();
// The SDK clients' sockets may linger a moment after destroy: end here, the figures are out.
process.exit(0);
