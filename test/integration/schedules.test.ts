import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import { JobEvent } from '../../src/contract/job.js';
import { outputsPrefix } from '../../src/contract/job-keys.js';
import { parseSchedulesFile, ScheduleState } from '../../src/contract/schedules.js';
import { scheduleStateKey } from '../../src/contract/job-keys.js';
import type { Worker } from '../../src/daemon/worker.js';
import type { QueueInstrumentation } from '../../src/queue/instrumentation.js';
import { tickJobId } from '../../src/pipeline/schedules/ticks.js';
import { kindDefinitions } from '../../src/tasks/index.js';
import { runCli } from '../helpers/cli.js';
import { startConditionalStoreProxy, type ConditionalStoreProxy } from '../helpers/conditional-store-proxy.js';
import { eventually, jobStatus, putObject, startStack, startTestWorker, type TestStack } from '../helpers/pipeline.js';

// Contract section 7, "Cron across replicas": three workers with one */5-second schedule for half a
// minute, every S3 call through a store that enforces conditional writes as AWS S3 does (fauxqs
// ignores them, and the tick claim is a conditional create).
let stack: TestStack;
let proxy: ConditionalStoreProxy;
let enforced: AwsClients;
let dir: string;

const file = {
  schedules: [{ name: 'every5', cron: '*/5 * * * * *', timezone: 'Europe/London', job: { input: { key: 'uploads/schedules/tick.csv' }, kind: 'csv' } }],
};
const schedules = parseSchedulesFile(file, kindDefinitions, 'test').schedules;

before(async () => {
  stack = await startStack();
  proxy = await startConditionalStoreProxy(stack.emulator.endpoint);
  enforced = createAwsClients({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: proxy.url });
  dir = await mkdtemp(join(tmpdir(), 'stageline-schedules-it-'));
  await putObject(stack.clients.s3, stack.emulator.bucket, 'uploads/schedules/tick.csv', 'id,amount\n1,2.5\n2,3\n');
});
after(async () => {
  await proxy.close();
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Counts what the worker sends to the ingestion queue: only the scheduler sends there (a tick's job request). */
function countingIngestionSends(): { instrumentation: QueueInstrumentation; sent: () => number } {
  let sent = 0;
  return {
    instrumentation: {
      publish: async (info, _attributes, send) => {
        const result = await send();
        if (info.queueUrl === stack.emulator.queues.ingestion.url) sent += 1;
        return result;
      },
      process: (_info, handle) => handle(),
    },
    sent: () => sent,
  };
}

/** Takes every message off the events queue (deleted, so a second copy of an event would show). */
async function takeEvents(into: JobEvent[]): Promise<void> {
  for (;;) {
    const res = await stack.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.emulator.eventsQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    const messages = res.Messages ?? [];
    if (messages.length === 0) return;
    into.push(...messages.map((m) => JobEvent.parse(JSON.parse(m.Body ?? '{}'))));
    await stack.clients.sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: stack.emulator.eventsQueueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
    );
  }
}

async function tickJobIds(): Promise<string[]> {
  const res = await stack.clients.s3.send(new ListObjectsV2Command({ Bucket: stack.emulator.bucket, Prefix: `${outputsPrefix}every5-` }));
  return [...new Set((res.Contents ?? []).map((o) => o.Key?.split('/')[1] ?? ''))].sort();
}

test('three workers with a */5 s schedule: one job per 5-second boundary, none missed, each with one terminal event', { timeout: 120_000 }, async () => {
  const counters = [countingIngestionSends(), countingIngestionSends(), countingIngestionSends()];
  // What the schedulers log: a replica that finds a tick claimed says so.
  const lines: { msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) });
  const start = (i: number) => startTestWorker(stack, { clients: enforced, schedules, instrumentation: counters[i]!.instrumentation, logger });
  const workers: Worker[] = [];
  workers.push(await start(0));
  const firstRunning = Date.now();
  workers.push(await start(1));
  workers.push(await start(2));
  await new Promise((r) => setTimeout(r, 30_000));
  const stopBegan = Date.now();
  await Promise.all(workers.map((w) => w.stop()));
  const stopEnded = Date.now();
  // A worker without the schedule runs whatever the three left queued.
  const finisher = await startTestWorker(stack, { clients: enforced });
  try {
    const boundaries = (from: number, to: number) => {
      const out: string[] = [];
      for (let t = Math.floor(from / 5000) * 5000 + 5000; t <= to; t += 5000) out.push(tickJobId('every5', new Date(t)));
      return out;
    };
    const required = boundaries(firstRunning, stopBegan);
    const possible = new Set(boundaries(firstRunning - 5000, stopEnded));
    assert.ok(required.length >= 5, `${required.length} boundaries in the window`);

    const jobIds = await tickJobIds();
    for (const id of required) assert.ok(jobIds.includes(id), `no job for the boundary ${id} (jobs: ${jobIds.join(', ')})`);
    for (const id of jobIds) assert.ok(possible.has(id), `${id} is not a 5-second boundary while the workers ran`);
    const sends = counters.reduce((n, c) => n + c.sent(), 0);
    assert.equal(sends, jobIds.length, 'one ingestion request per tick across the three workers: the losers of a claim sent nothing');
    assert.ok(lines.filter((l) => l.msg === 'tick already claimed').length >= required.length, 'the other replicas met every tick and found it claimed');

    // Every job runs to the end, with exactly one terminal event.
    const events: JobEvent[] = [];
    await eventually(
      async () => {
        await takeEvents(events);
        const statuses = await Promise.all(jobIds.map((id) => jobStatus(stack.store, id)));
        return statuses.every((s) => s?.state === 'succeeded') && jobIds.every((id) => events.some((e) => e.jobId === id)) ? true : undefined;
      },
      'every tick job to succeed and announce it',
      60_000,
      500,
    );
    await new Promise((r) => setTimeout(r, 2000));
    await takeEvents(events);
    for (const id of jobIds) {
      const terminal = events.filter((e) => e.jobId === id && (e.type === 'job.succeeded' || e.type === 'job.failed'));
      assert.equal(terminal.length, 1, `${id}: ${terminal.length} terminal events`);
      assert.equal(terminal[0]?.type, 'job.succeeded');
      const status = await jobStatus(stack.store, id);
      assert.equal(status?.kind, 'csv');
      assert.deepEqual(status?.input, { bucket: stack.emulator.bucket, key: 'uploads/schedules/tick.csv' });
    }
    const state = ScheduleState.parse(await stack.store.getJson(scheduleStateKey('every5'), ScheduleState));
    assert.equal(state.lastJobId, jobIds.at(-1), 'the record names the last tick job');
  } finally {
    await finisher.stop();
  }

  // `stageline schedules` reads the same file and the record the workers left.
  const path = join(dir, 'schedules.yaml');
  await writeFile(path, `schedules:\n  - name: every5\n    cron: "*/5 * * * * *"\n    timezone: Europe/London\n    job: { input: { key: uploads/schedules/tick.csv }, kind: csv }\n`);
  const env = { ...stack.env, SCHEDULES_FILE: path };
  const lastJob = (await tickJobIds()).at(-1)!;
  const shown = await runCli(['schedules'], env);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^every5 {2}"\*\/5 \* \* \* \* \*" {2}Europe\/London {2}catchUp none \(86400 s\) {2}overlap allow$/m);
  assert.match(shown.stdout, new RegExp(`^ {2}last run {2}\\S+Z {2}${lastJob} {2}succeeded$`, 'm'));
  assert.match(shown.stdout, /^ {2}next run {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d[05]Z {2}\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d[05][+-]\d\d:\d\d Europe\/London\)$/m);
  const json = JSON.parse((await runCli(['schedules', '--json'], env)).stdout) as { name: string; lastRun?: { jobId: string; state: string }; nextRun?: { at: string } }[];
  assert.equal(json[0]?.name, 'every5');
  assert.deepEqual(json[0]?.lastRun && { jobId: json[0].lastRun.jobId, state: json[0].lastRun.state }, { jobId: lastJob, state: 'succeeded' });
  assert.ok(Date.parse(json[0]?.nextRun?.at ?? '') > Date.now() - 1000);
});

test('a worker refuses to start on a bad schedules file, with one line naming the schedule and the field', async () => {
  const path = join(dir, 'bad.yaml');
  await writeFile(path, `schedules:\n  - name: nightly\n    cron: "0 2 * * *"\n    timezone: Europe/Lndon\n    job: { input: { key: incoming/daily.csv } }\n`);
  const res = await runCli(['worker'], { ...stack.env, SCHEDULES_FILE: path });
  assert.equal(res.code, 2);
  assert.equal(res.stderr.trim(), `stageline: configuration error: SCHEDULES_FILE ${path}: schedule "nightly": timezone: not a time zone this Node knows: give an IANA name such as Europe/London or UTC`);
  const shown = await runCli(['schedules'], { ...stack.env, SCHEDULES_FILE: path });
  assert.equal(shown.code, 2);
  assert.match(shown.stderr, /schedule "nightly": timezone: /);
});
