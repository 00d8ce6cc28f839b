/**
 * `npm run bench:jobs [-- --jobs=300] [--sequential=20] [--rounds=3] [--dist=DIR]`
 *
 * Tiny-job throughput and latency through the whole worker. It runs the compiled build (dist/, which
 * the script builds first; `--dist` names another), as the container does: under tsx every CSV thread
 * would load tsx and compile its sources, which production never pays. The fauxqs emulator
 * (src/cli/emulator.ts: the bucket, three stage queues with their DLQs, the events queue) runs in a
 * process of its own, as S3 and SQS are remote to a worker in production (`--emulator=in-process` puts it
 * in the bench's process, sharing the worker's event loop); this process holds one worker (startWorker
 * with the real tasks and the default configuration). Each job is a 5-row CSV
 * with an inline Table Schema and `kind: csv`, uploaded before the clock starts; it runs through
 * ingestion, validation and analysis.
 *
 *   (a) burst: N job requests sent at once (SendMessageBatch of 10, all batches in parallel). Jobs/s is
 *       N over the time from the first send to the last terminal event; latency per job is from its
 *       batch's send to the worker's SendMessage(Batch) of its `job.succeeded` / `job.failed` event (seen by a
 *       middleware on the worker's SQS client, so no polling sits in the measurement).
 *   (b) sequential: one job at a time, the next sent when the previous one's event is out; p50/p90.
 *   (c) the AWS calls one job makes, by operation, counted by a middleware on the worker's two clients
 *       (one job alone, after its event and 1 s for the batched delete to go out); ReceiveMessage is
 *       split into receives that brought messages and empty long polls (idle, not the job's). The same
 *       count per job over the burst shows what batching shares. Mean time per call (sequential run)
 *       shows where a job's latency goes.
 *   (d) the bare SDK path: CPU per call of default S3 and SQS clients (small PutObject, GetObject,
 *       SendMessage, 16 in flight) beside stageline's clients; a job's calls times that is the CPU floor
 *       of one event loop, whatever the worker does around them.
 *
 * A warm-up of 10 jobs (not counted) comes first; the table shows medians over the rounds.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient, type SendMessageBatchCommandInput, type SendMessageCommandInput } from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { startEmulatorProcess } from './emulator-process.js';
import { statCpuSeconds } from './proc-stat.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string | undefined]));
// The compiled build (what the container runs), so the CSV threads start as they do in production, not through tsx.
const dist = new URL(`${args.get('dist') ?? new URL('../dist', import.meta.url).pathname}/`, 'file://');
const load = async <T>(path: string): Promise<T> => (await import(new URL(path, dist).href)) as T;
const { createAwsClients } = await load<typeof import('../src/aws/clients.js')>('aws/clients.js');
const { startEmulator } = await load<typeof import('../src/cli/emulator.js')>('cli/emulator.js');
const inProcess = args.get('emulator') === 'in-process';
const { loadConfig } = await load<typeof import('../src/contract/env.js')>('contract/env.js');
const { startWorker } = await load<typeof import('../src/daemon/worker.js')>('daemon/worker.js');
const burstJobs = Number(args.get('jobs') ?? 300);
const sequentialJobs = Number(args.get('sequential') ?? 20);
const rounds = Number(args.get('rounds') ?? 3);
// `--concurrency=N`: jobs each of validation and analysis run at once (their defaults: the core count).
const stageConcurrency = args.get('concurrency');

const version = (pkg: string): string => (JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, 'utf8')) as { version: string }).version;
console.log(`stageline bench:jobs — ${new Date().toISOString()}`);
console.log(`node ${process.version}; fauxqs ${version('fauxqs')} (${inProcess ? 'in the bench process' : 'its own process'}); @aws-sdk/client-sqs ${version('@aws-sdk/client-sqs')}; @aws-sdk/client-s3 ${version('@aws-sdk/client-s3')}`);
console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}); load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`stageline from ${dist.pathname}; validation and analysis concurrency ${stageConcurrency ?? 'default (core count)'}\nburst ${burstJobs} jobs, sequential ${sequentialJobs} jobs, ${rounds} round(s)\n`);

const emulator = inProcess ? await startEmulator() : await startEmulatorProcess(dist);
const emulatorCpuSeconds = () => ('cpuSeconds' in emulator ? emulator.cpuSeconds() : 0);
// The main thread alone (its task id is the process id): the event loop every AWS call goes through, so
// what bounds a burst; the process figure adds the CSV threads and V8's helper threads.
const mainThreadCpuMs = () => statCpuSeconds(`/proc/self/task/${process.pid}/stat`) * 1000;
for (const [k, v] of Object.entries(emulator.env)) if (k.startsWith('AWS_')) process.env[k] = v;
const config = loadConfig({
  ...emulator.env,
  HTTP_PORT: '0',
  LOG_LEVEL: 'silent',
  ...(stageConcurrency ? { VALIDATION_CONCURRENCY: stageConcurrency, ANALYSIS_CONCURRENCY: stageConcurrency } : {}),
});
const benchClients = createAwsClients(config); // the bench's own uploads and sends: not counted
const clients = createAwsClients(config); // the worker's: counted

// ---- counting and timing middleware on the worker's clients ----
let counting = false;
const calls = new Map<string, number>();
const callMs = new Map<string, number>();
const terminalAt = new Map<string, { at: number; type: string }>();
let onTerminal: (() => void) | undefined;
// `--calls`: the one job's calls in order, with the key or queue each names.
const listCalls = args.has('calls');
const callList: string[] = [];
const count = (op: string, ms: number, target = '') => {
  if (!counting) return;
  if (listCalls) callList.push(`${op} ${target}`);
  calls.set(op, (calls.get(op) ?? 0) + 1);
  callMs.set(op, (callMs.get(op) ?? 0) + ms);
};
// Spans of a sequential job (one job in flight, so every call between two marks is that span's):
// a stage runs from its receive to the send of the next stage's message (the event after analysis).
const stageOfQueue = new Map<string, string>(Object.entries(emulator.queues).map(([stage, q]) => [q.url, stage]));
let spanOf: string | undefined;
let spanStart = 0;
let tracing = false;
const wallMsBySpan = new Map<string, number[]>();
const awsMsBySpan = new Map<string, number>();
const mark = (what: string, at: number) => {
  if (!tracing) return;
  if (spanOf) (wallMsBySpan.get(spanOf) ?? wallMsBySpan.set(spanOf, []).get(spanOf)!).push(at - spanStart);
  // After a stage's forward comes the queue hop to the next stage's receive.
  spanOf = what.startsWith('to ') ? `hop ${what}` : what;
  spanStart = at;
};
for (const client of [clients.s3, clients.sqs]) {
  (client.middlewareStack as { add: (mw: unknown, opts: unknown) => void }).add(
    (next: (a: unknown) => Promise<{ output: unknown }>, context: { commandName?: string }) => async (a: { input: unknown }) => {
      const op = (context.commandName ?? '?').replace(/Command$/, '');
      const named = a.input as { Key?: string; Prefix?: string; QueueUrl?: string };
      const target = named.Key ?? (named.Prefix ? `${named.Prefix}*` : (named.QueueUrl?.split('/').pop() ?? ''));
      const t0 = performance.now();
      let result: { output: unknown };
      try {
        result = await next(a);
      } catch (err) {
        // A call S3 answers with an error (the 404 of a job's first status read) is a call too.
        count(`${op} (error answer)`, performance.now() - t0, target);
        throw err;
      }
      const t1 = performance.now();
      if (op === 'ReceiveMessage') {
        const n = ((result.output as { Messages?: unknown[] }).Messages ?? []).length;
        count(n > 0 ? 'ReceiveMessage (with messages)' : 'ReceiveMessage (empty long poll)', t1 - t0, target);
        const stage = stageOfQueue.get((a.input as { QueueUrl?: string }).QueueUrl ?? '');
        if (n > 0 && stage) mark(stage, t1);
      } else {
        count(op, t1 - t0, target);
        if (spanOf) awsMsBySpan.set(spanOf, (awsMsBySpan.get(spanOf) ?? 0) + (t1 - t0));
      }
      if (op === 'SendMessage' || op === 'SendMessageBatch') {
        // The publisher sends batches (often of one); a build before it (`--dist`) sent single messages.
        const input = a.input as SendMessageBatchCommandInput | SendMessageCommandInput;
        const entries = 'Entries' in input ? (input.Entries ?? []) : [input];
        const next = stageOfQueue.get(input.QueueUrl ?? '');
        if (next) mark(`to ${next}`, t1);
        for (const entry of input.QueueUrl === emulator.eventsQueueUrl ? entries : []) {
          const event = JSON.parse(entry.MessageBody ?? '{}') as { type: string; jobId: string };
          if (event.type === 'job.succeeded' || event.type === 'job.failed') {
            mark('event', t1);
            spanOf = undefined;
            terminalAt.set(event.jobId, { at: t1, type: event.type });
            onTerminal?.();
          }
        }
      }
      return result;
    },
    { step: 'initialize', name: 'benchCallCounter' },
  );
}

const worker = await startWorker({ config, clients, logger: pino({ level: 'silent' }) });

const csv = 'id,region,amount\n1,north,12.50\n2,south,7.25\n3,east,3.00\n4,west,10.10\n5,north,1.99\n';
const schema = {
  fields: [
    { name: 'id', type: 'integer', constraints: { required: true } },
    { name: 'region', type: 'string', constraints: { enum: ['north', 'south', 'east', 'west'] } },
    { name: 'amount', type: 'number', constraints: { minimum: 0 } },
  ],
};
let seq = 0;
async function prepare(n: number, label: string): Promise<string[]> {
  const ids = Array.from({ length: n }, () => `${label}-${seq++}`);
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids.slice(i, i + 50).map((id) => benchClients.s3.send(new PutObjectCommand({ Bucket: emulator.bucket, Key: `uploads/${id}/sales.csv`, Body: csv }))),
    );
  }
  return ids;
}
const request = (jobId: string) => JSON.stringify({ jobId, kind: 'csv', input: { key: `uploads/${jobId}/sales.csv` }, csv: { schema } });

/** Sends the jobs in batches of ten, all at once; resolves with each job's send time once all are terminal. */
async function run(ids: string[]): Promise<{ sentAt: Map<string, number>; first: number; last: number }> {
  const sentAt = new Map<string, number>();
  const pending = new Set(ids);
  const allDone = new Promise<void>((resolve) => {
    onTerminal = () => {
      for (const id of pending) if (terminalAt.has(id)) pending.delete(id);
      if (pending.size === 0) resolve();
    };
  });
  const first = performance.now();
  const sends = [];
  for (let i = 0; i < ids.length; i += 10) {
    const batch = ids.slice(i, i + 10);
    const t = performance.now();
    for (const id of batch) sentAt.set(id, t);
    sends.push(
      benchClients.sqs.send(
        new SendMessageBatchCommand({ QueueUrl: emulator.queues.ingestion.url, Entries: batch.map((id, j) => ({ Id: String(j), MessageBody: request(id) })) }),
      ),
    );
  }
  await Promise.all(sends);
  await Promise.race([allDone, new Promise((_, reject) => setTimeout(() => reject(new Error(`jobs not terminal after 10 min: ${pending.size} left`)), 600_000))]);
  const last = Math.max(...ids.map((id) => terminalAt.get(id)!.at));
  return { sentAt, first, last };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const median = (xs: number[]) => quantile(xs, 0.5);
const latencies = (ids: string[], sentAt: Map<string, number>) => ids.map((id) => terminalAt.get(id)!.at - sentAt.get(id)!);
const failedOf = (ids: string[]) => ids.filter((id) => terminalAt.get(id)?.type !== 'job.succeeded').length;

// ---- warm-up ----
await run(await prepare(10, 'warm'));

// ---- (c) one job alone, its calls ----
const soloIds = await prepare(1, 'solo');
calls.clear();
callMs.clear();
counting = true;
await run(soloIds);
await new Promise((r) => setTimeout(r, 1000));
counting = false;
const soloCalls = new Map(calls);
if (listCalls) console.log(`one job's calls, in order:\n${callList.filter((c) => !c.startsWith('ReceiveMessage (empty')).map((c, i) => `${i + 1}. ${c}`).join('\n')}\n`);

// ---- (a) burst and (b) sequential, rounds ----
const burst: { jobsPerSecond: number; p50: number; p90: number; p99: number; failed: number }[] = [];
const sequential: { p50: number; p90: number; failed: number }[] = [];
let burstCalls = new Map<string, number>();
let seqCallMs = new Map<string, number>();
let seqCalls = new Map<string, number>();
const cpuBurst: number[] = [];
const cpuBurstMain: number[] = [];
const cpuBurstEmulator: number[] = [];
for (let round = 1; round <= rounds; round++) {
  const ids = await prepare(burstJobs, `burst${round}`);
  calls.clear();
  counting = true;
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  const emulatorCpu0 = emulatorCpuSeconds();
  const { sentAt, first, last } = await run(ids);
  const cpu = process.cpuUsage(cpu0);
  cpuBurstEmulator.push(((emulatorCpuSeconds() - emulatorCpu0) * 1000) / ids.length);
  await new Promise((r) => setTimeout(r, 1000));
  counting = false;
  burstCalls = new Map(calls);
  const lat = latencies(ids, sentAt);
  const r = { jobsPerSecond: ids.length / ((last - first) / 1000), p50: quantile(lat, 0.5), p90: quantile(lat, 0.9), p99: quantile(lat, 0.99), failed: failedOf(ids) };
  burst.push(r);
  cpuBurst.push((cpu.user + cpu.system) / 1000 / ids.length);
  cpuBurstMain.push((mainThreadCpuMs() - main0) / ids.length);
  process.stderr.write(`round ${round} burst: ${r.jobsPerSecond.toFixed(1)} jobs/s, p50 ${r.p50.toFixed(0)} ms, p90 ${r.p90.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, failed ${r.failed}\n`);

  const seqIds = await prepare(sequentialJobs, `seq${round}`);
  const seqLat: number[] = [];
  calls.clear();
  callMs.clear();
  counting = true;
  wallMsBySpan.clear();
  awsMsBySpan.clear();
  tracing = true;
  for (const id of seqIds) {
    spanOf = 'send → ingestion receive';
    spanStart = performance.now();
    const { sentAt: s } = await run([id]);
    seqLat.push(terminalAt.get(id)!.at - s.get(id)!);
  }
  counting = false;
  tracing = false;
  seqCalls = new Map(calls);
  seqCallMs = new Map(callMs);
  const sr = { p50: median(seqLat), p90: quantile(seqLat, 0.9), failed: failedOf(seqIds) };
  sequential.push(sr);
  process.stderr.write(`round ${round} sequential: p50 ${sr.p50.toFixed(0)} ms, p90 ${sr.p90.toFixed(0)} ms, failed ${sr.failed}\n`);
}
await worker.stop();

// ---- (d) the bare SDK path: CPU per call of a default client, as a user would write it ----
// The floor under any worker on this machine: a job's calls times this. Stageline's clients beside it.
const bareClients = { s3: new S3Client({ region: config.AWS_REGION, endpoint: config.AWS_ENDPOINT_URL, forcePathStyle: true }), sqs: new SQSClient({ region: config.AWS_REGION, endpoint: config.AWS_ENDPOINT_URL }) };
const smallBody = JSON.stringify({ jobId: 'bare', state: 'running', note: 'x'.repeat(300) });
const sdkCall = {
  PutObject: (c: typeof bareClients, i: number) => c.s3.send(new PutObjectCommand({ Bucket: config.S3_BUCKET, Key: `bare/${i % 20}.json`, Body: smallBody, ContentType: 'application/json' })),
  GetObject: async (c: typeof bareClients, i: number) => void (await (await c.s3.send(new GetObjectCommand({ Bucket: config.S3_BUCKET, Key: `bare/${i % 20}.json` }))).Body!.transformToString()),
  SendMessage: (c: typeof bareClients) => c.sqs.send(new SendMessageCommand({ QueueUrl: emulator.eventsQueueUrl, MessageBody: smallBody })),
};
const perCall: Record<string, { bare: number[]; stageline: number[] }> = {};
for (let batch = 0; batch < 6; batch++) {
  for (const [op, call] of Object.entries(sdkCall)) {
    for (const [who, c] of [['bare', bareClients], ['stageline', benchClients]] as const) {
      // 16 calls in flight, as in a burst (a call alone pays an event-loop wake-up of its own).
      const calls16 = async (n: number) => Promise.all(Array.from({ length: 16 }, async (_, k) => { for (let i = 0; i < n; i++) await call(c, 16 * i + k); }));
      await calls16(2); // warm
      const cpu0 = process.cpuUsage();
      await calls16(25);
      const cpu = process.cpuUsage(cpu0);
      ((perCall[op] ??= { bare: [], stageline: [] })[who]).push((cpu.user + cpu.system) / 400);
    }
  }
}
await Promise.resolve(emulator.stop());

const ms = (x: number) => `${x.toFixed(0)} ms`;
const m = <K extends string>(rows: Record<K, number>[], k: K) => median(rows.map((r) => r[k]));
console.log(`\n| measure | stageline (median of ${rounds}) | goal | must hold on 2 cores |`);
console.log('| --- | --- | --- | --- |');
const bJps = m(burst, 'jobsPerSecond');
const sP50 = m(sequential, 'p50');
console.log(`| burst of ${burstJobs}: jobs/s | ${bJps.toFixed(1)} | ≥ 100 ${bJps >= 100 ? '✓' : '✗'} | ≥ 50 ${bJps >= 50 ? '✓' : '✗'} |`);
console.log(`| burst: latency p50 / p90 / p99 | ${ms(m(burst, 'p50'))} / ${ms(m(burst, 'p90'))} / ${ms(m(burst, 'p99'))} |  |  |`);
console.log(`| sequential (${sequentialJobs} jobs): latency p50 | ${ms(sP50)} | ≤ 150 ms ${sP50 <= 150 ? '✓' : '✗'} | ≤ 300 ms ${sP50 <= 300 ? '✓' : '✗'} |`);
console.log(`| sequential: latency p90 | ${ms(m(sequential, 'p90'))} |  |  |`);
console.log(
  inProcess
    ? `| process CPU per job in the burst (worker + emulator, one process) | ${median(cpuBurst).toFixed(1)} ms |  |  |`
    : `| CPU per job in the burst: worker process (its threads included) / emulator process | ${median(cpuBurst).toFixed(1)} ms / ${median(cpuBurstEmulator).toFixed(1)} ms |  |  |`,
);
console.log(`| the main thread alone (the worker's event loop; the bench's ${Math.ceil(burstJobs / 10)} batched sends included): CPU per job in the burst | ${median(cpuBurstMain).toFixed(1)} ms |  |  |`);
console.log(`| jobs not succeeded | burst ${burst.map((r) => r.failed).join('/')}, sequential ${sequential.map((r) => r.failed).join('/')} |  |  |`);

const ops = [...new Set([...soloCalls.keys(), ...burstCalls.keys(), ...seqCalls.keys()])].sort();
const total = (c: Map<string, number>, skipIdle: boolean) => [...c].filter(([k]) => !skipIdle || !k.includes('empty')).reduce((a, [, v]) => a + v, 0);
console.log(`\nAWS calls by operation (worker's clients; the bench's own uploads and sends not counted)\n`);
console.log(`| operation | one job alone | per job, burst of ${burstJobs} (last round) | mean ms per call, sequential (last round) |`);
console.log('| --- | ---: | ---: | ---: |');
for (const op of ops) {
  const solo = soloCalls.get(op) ?? 0;
  const perJob = (burstCalls.get(op) ?? 0) / burstJobs;
  const n = seqCalls.get(op) ?? 0;
  const mean = n > 0 ? (seqCallMs.get(op) ?? 0) / n : NaN;
  console.log(`| ${op} | ${solo} | ${perJob.toFixed(2)} | ${Number.isNaN(mean) ? '' : mean.toFixed(2)} |`);
}
console.log(`| **total, empty long polls left out** | **${total(soloCalls, true)}** | **${(total(burstCalls, true) / burstJobs).toFixed(2)}** |  |`);

console.log(`\nWhere a sequential job's time goes (last round, median ms per job; AWS ms = time inside the worker's S3/SQS calls, long polls left out, parallel calls both counted)\n`);
console.log('| span | wall ms (median) | AWS ms (mean) | rest: CPU, threads, waits |');
console.log('| --- | ---: | ---: | ---: |');
let wallSum = 0;
for (const [span, walls] of wallMsBySpan) {
  const wall = median(walls);
  const aws = (awsMsBySpan.get(span) ?? 0) / walls.length;
  wallSum += wall;
  console.log(`| ${span} | ${wall.toFixed(1)} | ${aws.toFixed(1)} | ${(wall - aws).toFixed(1)} |`);
}
console.log(`| **sum of medians** | **${wallSum.toFixed(1)}** |  |  |`);

const bareMean = median(Object.values(perCall).map((p) => median(p.bare)));
const jobCalls = total(soloCalls, true);
console.log(`\nThe bare SDK path on this machine: CPU per call, 16 in flight, small bodies, medians of 6 batches of 400 (bench process; "stageline" = createAwsClients)\n`);
console.log('| call | bare SDK client µs | stageline client µs |');
console.log('| --- | ---: | ---: |');
for (const [op, p] of Object.entries(perCall)) console.log(`| ${op} | ${median(p.bare).toFixed(0)} | ${median(p.stageline).toFixed(0)} |`);
console.log(`\nFloor: ${jobCalls} calls a job × ${bareMean.toFixed(0)} µs = ${((jobCalls * bareMean) / 1000).toFixed(1)} ms of one event loop's CPU a job, at most ${(1e6 / (jobCalls * bareMean)).toFixed(0)} jobs/s for any worker making these calls on one core.`);
// fauxqs leaves a handle open after stop: end here, the figures are out.
process.exit(0);
