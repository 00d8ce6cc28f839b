import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import { jobPrefix } from '../../src/contract/job-keys.js';
import { JobEvent } from '../../src/contract/job.js';
import type { JobStatus } from '../../src/contract/status-document.js';
import type { Worker } from '../../src/daemon/worker.js';
import { startConditionalStoreProxy, type ConditionalStoreProxy } from '../helpers/conditional-store-proxy.js';
import { runCli } from '../helpers/cli.js';
import { eventually, finalStatus, jobStatus, putObject, receiveAll, sendRaw, startStack, startTestWorker, type TestStack } from '../helpers/pipeline.js';

// Contract section 7 against a store that enforces conditional writes, as AWS S3 does (fauxqs does not):
// two workers, each with its S3 traffic through the enforcing proxy, race for every claim.
let stack: TestStack;
let proxy: ConditionalStoreProxy;
let enforced: AwsClients;
let workers: Worker[] = [];
/** Every event read off the events queue so far (several tests share it). */
const events: JobEvent[] = [];

/** Hops of at most 2 s, so that a 6 s delay takes several. */
const maxDelaySeconds = 2;

before(async () => {
  stack = await startStack();
  proxy = await startConditionalStoreProxy(stack.emulator.endpoint);
  enforced = createAwsClients({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: proxy.url });
  workers = [await startTestWorker(stack, { clients: enforced, maxDelaySeconds }), await startTestWorker(stack, { clients: enforced, maxDelaySeconds })];
});
after(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await proxy.close();
  await stack.stop();
});

const ingestionUrl = () => stack.emulator.queues.ingestion.url;

async function upload(name: string, body = 'id,amount\n1,2.5\n2,3\n'): Promise<string> {
  const key = `uploads/${name}/data.csv`;
  await putObject(stack.clients.s3, stack.emulator.bucket, key, body);
  return key;
}

async function readEvents(): Promise<JobEvent[]> {
  for (;;) {
    const batch = await receiveAll(stack.clients.sqs, stack.emulator.eventsQueueUrl, 0);
    if (batch.length === 0) return events;
    events.push(...batch.map((m) => JobEvent.parse(JSON.parse(m.body))));
  }
}

async function keysOf(jobId: string): Promise<string[]> {
  const res = await stack.clients.s3.send(new ListObjectsV2Command({ Bucket: stack.emulator.bucket, Prefix: jobPrefix(jobId) }));
  return (res.Contents ?? []).map((o) => o.Key ?? '');
}

/** Polls a job's status until it leaves `scheduled`, noting when it was last seen scheduled. */
async function whenStarted(jobId: string, timeoutMs: number): Promise<{ status: JobStatus; lastScheduledAt: number }> {
  let lastScheduledAt = 0;
  const status = await eventually(
    async () => {
      const s = await jobStatus(stack.store, jobId);
      if (s?.state === 'scheduled') lastScheduledAt = Date.now();
      return s && s.state !== 'scheduled' ? s : undefined;
    },
    `job ${jobId} to start`,
    timeoutMs,
    100,
  );
  return { status, lastScheduledAt };
}

test('a job with runAt is scheduled at once, starts no earlier than runAt and within 5 s after it, and announces its success after it', async () => {
  const key = await upload('later-1');
  const runAt = new Date(Date.now() + 4000).toISOString();
  await sendRaw(stack.clients.sqs, ingestionUrl(), JSON.stringify({ jobId: 'later-1', input: { key }, kind: 'csv', runAt }));
  const scheduled = await eventually(async () => {
    const s = await jobStatus(stack.store, 'later-1');
    return s?.state === 'scheduled' ? s : undefined;
  }, 'the scheduled state', 3000);
  assert.equal(scheduled.runAt, runAt);
  assert.deepEqual(scheduled.stages, {}, 'nothing started');

  const { status } = await whenStarted('later-1', 15_000);
  const startedAt = Date.parse(status.stages.ingestion?.startedAt ?? '');
  assert.ok(startedAt >= Date.parse(runAt), `started ${status.stages.ingestion?.startedAt}, before runAt ${runAt}`);
  assert.ok(startedAt <= Date.parse(runAt) + 5000, `started ${status.stages.ingestion?.startedAt}, more than 5 s after runAt ${runAt}`);
  const done = await finalStatus(stack.store, 'later-1');
  assert.equal(done.state, 'succeeded');
  assert.equal(done.stages.ingestion?.attempts, 1, 'waiting spent no receive attempt');
  const succeeded = await eventually(async () => (await readEvents()).find((e) => e.jobId === 'later-1' && e.type === 'job.succeeded'), 'job.succeeded');
  assert.ok(Date.parse(succeeded.at) > Date.parse(runAt));
});

test('a delay longer than the longest SQS delay hops: the job still starts no earlier than its runAt, on its first receive attempt', async () => {
  const key = await upload('hops-1');
  const sent = Date.now();
  await sendRaw(stack.clients.sqs, ingestionUrl(), JSON.stringify({ jobId: 'hops-1', input: { key }, kind: 'csv', delaySeconds: 3 * maxDelaySeconds }));
  const scheduled = await eventually(async () => {
    const s = await jobStatus(stack.store, 'hops-1');
    return s?.state === 'scheduled' ? s : undefined;
  }, 'the scheduled state', 3000);
  const runAt = Date.parse(scheduled.runAt ?? '');
  assert.ok(runAt >= sent + 3 * maxDelaySeconds * 1000 - 100 && runAt <= Date.now() + 3 * maxDelaySeconds * 1000, 'runAt is delaySeconds after receipt');
  const { status } = await whenStarted('hops-1', 20_000);
  const startedAt = Date.parse(status.stages.ingestion?.startedAt ?? '');
  assert.ok(startedAt >= runAt, `started ${startedAt - runAt} ms before runAt: a hop was taken for the whole wait`);
  assert.ok(startedAt <= runAt + 5000, `started ${startedAt - runAt} ms after runAt`);
  const done = await finalStatus(stack.store, 'hops-1');
  assert.equal(done.state, 'succeeded');
  assert.equal(done.stages.ingestion?.attempts, 1);
});

test('stageline cancel: a scheduled job stays cancelled, writes nothing but its status and announces nothing; a started job cannot be cancelled', async () => {
  const key = await upload('cancel-1');
  // Far enough ahead that starting the CLI on a loaded machine (seconds under tsx) still lands before it.
  const runAt = new Date(Date.now() + 12_000).toISOString();
  await sendRaw(stack.clients.sqs, ingestionUrl(), JSON.stringify({ jobId: 'cancel-1', input: { key }, kind: 'csv', runAt }));
  await eventually(async () => ((await jobStatus(stack.store, 'cancel-1'))?.state === 'scheduled' ? true : undefined), 'the scheduled state', 3000);

  const cancelled = await runCli(['cancel', 'cancel-1'], stack.env);
  assert.equal(cancelled.code, 0, cancelled.stderr);
  assert.match(cancelled.stdout, /cancelled cancel-1/);
  // Past runAt and its hops: the job stays cancelled.
  await new Promise((r) => setTimeout(r, Date.parse(runAt) - Date.now() + 4000));
  const status = await jobStatus(stack.store, 'cancel-1');
  assert.equal(status?.state, 'cancelled');
  assert.deepEqual(status?.stages, {});
  assert.deepEqual(await keysOf('cancel-1'), [`${jobPrefix('cancel-1')}status.json`]);
  assert.deepEqual((await readEvents()).filter((e) => e.jobId === 'cancel-1'), []);

  await sendRaw(stack.clients.sqs, ingestionUrl(), JSON.stringify({ jobId: 'cancel-2', input: { key }, kind: 'csv' }));
  assert.equal((await finalStatus(stack.store, 'cancel-2')).state, 'succeeded');
  const again = await runCli(['cancel', 'cancel-2'], stack.env);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /cancel-2: it is succeeded; only a scheduled job can be cancelled/);
  assert.equal((await jobStatus(stack.store, 'cancel-2'))?.state, 'succeeded', 'the refused cancel changed nothing');
  const missing = await runCli(['cancel', 'no-such-job'], stack.env);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no job no-such-job/);
});

test('ten unique requests with one key at once, against two workers: one job runs, nine job.deduplicated events name it', async () => {
  const key = await upload('race');
  const ids = Array.from({ length: 10 }, (_, i) => `race-${i}`);
  await Promise.all(ids.map((jobId) => sendRaw(stack.clients.sqs, ingestionUrl(), JSON.stringify({ jobId, input: { key }, kind: 'csv', unique: { key: 'race-key' } }))));
  const statuses = await eventually(async () => {
    const all = await Promise.all(ids.map((id) => jobStatus(stack.store, id)));
    return all.every((s) => s && (s.state === 'succeeded' || s.duplicateOf)) ? (all as JobStatus[]) : undefined;
  }, 'every request settled', 30_000);
  const ran = statuses.filter((s) => !s.duplicateOf);
  assert.equal(ran.length, 1, `jobs that ran: ${ran.map((s) => s.jobId).join(', ')}`);
  const winner = ran[0]!.jobId;
  for (const s of statuses.filter((x) => x.duplicateOf)) {
    assert.equal(s.duplicateOf, winner);
    assert.equal(s.state, 'cancelled');
    assert.deepEqual(s.stages, {});
  }
  const ours = await eventually(async () => {
    const mine = (await readEvents()).filter((e) => ids.includes(e.jobId));
    return mine.length >= 10 ? mine : undefined;
  }, 'ten events');
  const dedups = ours.filter((e) => e.type === 'job.deduplicated');
  assert.equal(dedups.length, 9);
  for (const e of dedups) assert.equal(e.duplicateOf, winner);
  assert.deepEqual(
    ours.filter((e) => e.type !== 'job.deduplicated').map((e) => [e.type, e.jobId]),
    [['job.succeeded', winner]],
  );
  assert.ok(proxy.refused.ifNoneMatch > 0, 'the requests raced on the conditional create');
});

test('unique `for`: a request within that many seconds after the job succeeded is a duplicate, one after it runs', async () => {
  const key = await upload('for');
  const request = (jobId: string) => JSON.stringify({ jobId, input: { key }, kind: 'csv', unique: { key: 'for-key', for: 4 } });
  await sendRaw(stack.clients.sqs, ingestionUrl(), request('for-1'));
  const first = await finalStatus(stack.store, 'for-1');
  assert.equal(first.state, 'succeeded');
  await sendRaw(stack.clients.sqs, ingestionUrl(), request('for-2'));
  const second = await eventually(async () => jobStatus(stack.store, 'for-2'), 'for-2 settled');
  assert.equal(second.duplicateOf, 'for-1', 'within `for` of the success');
  await new Promise((r) => setTimeout(r, Date.parse(first.updatedAt) + 4500 - Date.now()));
  await sendRaw(stack.clients.sqs, ingestionUrl(), request('for-3'));
  const third = await finalStatus(stack.store, 'for-3');
  assert.equal(third.state, 'succeeded', 'past `for`, a new job runs');
  assert.equal(third.duplicateOf, undefined);
});

test('unique without `for`: a duplicate while the job is scheduled; force runs anyway; after success the key is free', async () => {
  const key = await upload('force');
  const runAt = new Date(Date.now() + 3000).toISOString();
  await sendRaw(stack.clients.sqs, ingestionUrl(), JSON.stringify({ jobId: 'force-1', input: { key }, kind: 'csv', runAt, unique: {} }));
  await eventually(async () => ((await jobStatus(stack.store, 'force-1'))?.state === 'scheduled' ? true : undefined), 'force-1 scheduled', 3000);
  await sendRaw(stack.clients.sqs, ingestionUrl(), JSON.stringify({ jobId: 'force-2', input: { key }, kind: 'csv', unique: {} }));
  assert.equal((await eventually(async () => jobStatus(stack.store, 'force-2'), 'force-2 settled')).duplicateOf, 'force-1', 'the derived key: same input, ETag and options');
  await sendRaw(stack.clients.sqs, ingestionUrl(), JSON.stringify({ jobId: 'force-3', input: { key }, kind: 'csv', unique: {}, force: true }));
  assert.equal((await finalStatus(stack.store, 'force-3')).state, 'succeeded', 'force runs although force-1 holds the key');
  assert.equal((await finalStatus(stack.store, 'force-1')).state, 'succeeded');
  await sendRaw(stack.clients.sqs, ingestionUrl(), JSON.stringify({ jobId: 'force-4', input: { key }, kind: 'csv', unique: {} }));
  assert.equal((await finalStatus(stack.store, 'force-4')).state, 'succeeded', 'without for, the key is free once its job succeeded');
});

test('S3 notifications: content (ETag) already processed creates no job; new content does', async () => {
  const key = 'incoming/s3-unique/data.csv';
  await putObject(stack.clients.s3, stack.emulator.bucket, key, 'id\n1\n');
  const event = (sequencer: string) =>
    JSON.stringify({
      Records: [{ eventVersion: '2.1', eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: stack.emulator.bucket }, object: { key, size: 5, sequencer } } }],
    });
  const jobOf = async (sequencer: string) => {
    const before = new Set((await readEvents()).map((e) => e.jobId));
    await sendRaw(stack.clients.sqs, ingestionUrl(), event(sequencer));
    return eventually(async () => (await readEvents()).find((e) => !before.has(e.jobId) && e.input.key === key), `the event of upload ${sequencer}`);
  };
  const first = await jobOf('0001');
  assert.equal(first.type, 'job.succeeded');
  // The same bytes uploaded again: a new sequencer, the same ETag.
  await putObject(stack.clients.s3, stack.emulator.bucket, key, 'id\n1\n');
  const second = await jobOf('0002');
  assert.equal(second.type, 'job.deduplicated');
  assert.equal(second.duplicateOf, first.jobId);
  await putObject(stack.clients.s3, stack.emulator.bucket, key, 'id\n2\n');
  const third = await jobOf('0003');
  assert.equal(third.type, 'job.succeeded', 'new content is a new job');
});

test('stageline submit --in waits, --unique prints the job it duplicates', async () => {
  const file = new URL('../../samples/orders.csv', import.meta.url).pathname;
  const later = await runCli(['submit', file, '--kind', 'csv', '--in', '2', '--wait'], stack.env);
  assert.equal(later.code, 0, later.stderr);
  assert.match(later.stdout, /\[scheduled\] starts at /);
  assert.match(later.stdout, /\[succeeded\]/);

  const first = await runCli(['submit', file, '--kind', 'csv', '--unique', 'orders-today', '--at', new Date(Date.now() + 60_000).toISOString()], stack.env);
  assert.equal(first.code, 0, first.stderr);
  const firstId = first.stdout.split('\n')[0] ?? '';
  const second = await runCli(['submit', file, '--kind', 'csv', '--unique', 'orders-today'], stack.env);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, new RegExp(`duplicate of ${firstId}`));
  assert.equal((await runCli(['cancel', firstId], stack.env)).code, 0);
});
