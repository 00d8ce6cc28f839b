import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import type { Worker } from '../../src/daemon/worker.js';
import { s3JobId } from '../../src/pipeline/ingestion-request.js';
import { JobEvent } from '../../src/contract/job.js';
import { TaskRegistry } from '../../src/pipeline/registry.js';
import { eventually, finalStatus, putObject, queueDepth, receiveAll, sendRaw, startStack, startTestWorker, type TestStack } from '../helpers/pipeline.js';
import { RecordingTask } from '../helpers/recording-task.js';

let stack: TestStack;
let workers: Worker[];
const record = new RecordingTask('record', () => new Promise((r) => setTimeout(r, 20)));
// One validation task per worker, so the test sees which replica validated which job.
const validators = [0, 1].map(() => new RecordingTask('record', () => new Promise((r) => setTimeout(r, 20))));

before(async () => {
  stack = await startStack({}, { INGESTION_CONCURRENCY: '3', VALIDATION_CONCURRENCY: '2', ANALYSIS_CONCURRENCY: '2' });
  // Two workers on the same queues, as two replicas would be.
  workers = await Promise.all(
    validators.map((validator) =>
      startTestWorker(stack, { registry: new TaskRegistry().register('validation', 'csv', validator).register('analysis', 'audio', record) }),
    ),
  );
});
after(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await stack.stop();
});

test('two workers on one queue share the work and each job runs each stage once', async () => {
  const ids = Array.from({ length: 24 }, (_, i) => `pair-${i}`);
  await Promise.all(ids.map((id) => putObject(stack.clients.s3, 'stageline', `uploads/${id}/d.csv`, 'x\n1\n')));
  await Promise.all(ids.map((id) => sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ jobId: id, input: { key: `uploads/${id}/d.csv` } }))));
  for (const id of ids) assert.equal((await finalStatus(stack.store, id)).state, 'succeeded', id);
  const runs = validators.flatMap((v) => v.runs);
  for (const id of ids) assert.equal(runs.filter((r) => r.jobId === id).length, 1, `${id} validated once, by one replica`);
  for (const [i, v] of validators.entries()) assert.ok(v.runs.some((r) => r.jobId.startsWith('pair-')), `replica ${i} took part`);
});

test('S3 event notifications start jobs with deterministic ids; SNS-wrapped and test events too', async () => {
  await putObject(stack.clients.s3, 'stageline', 'incoming/my song.wav', Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WAVEfmt '), Buffer.alloc(64)]));
  const event = { eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'stageline' }, object: { key: 'incoming/my+song.wav', sequencer: '0055' } } };
  await sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ Event: 's3:TestEvent', Service: 'Amazon S3' }));
  await sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ Type: 'Notification', Message: JSON.stringify({ Records: [event] }) }));
  const jobId = s3JobId('stageline', 'incoming/my song.wav', '0055');
  const status = await finalStatus(stack.store, jobId);
  assert.equal(status.state, 'succeeded');
  assert.equal(status.kind, 'audio', 'kind detected from the content');
  assert.deepEqual(status.input, { bucket: 'stageline', key: 'incoming/my song.wav' });
  // The same event again is the same job, not a second one; the job is over, so it is acknowledged without work.
  await sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ Records: [event] }));
  await eventually(async () => {
    const d = await queueDepth(stack.clients.sqs, stack.emulator.queues.ingestion.url);
    return d.visible === 0 && d.inFlight === 0 ? true : undefined;
  }, 'the repeated event to be acknowledged');
  assert.deepEqual(record.runs.filter((r) => r.jobId.startsWith('s3-')).map((r) => r.jobId), [jobId], 'one job, run once');
  assert.deepEqual(await finalStatus(stack.store, jobId), status, 'its status untouched');
  await eventually(async () => {
    const d = await queueDepth(stack.clients.sqs, stack.emulator.queues.analysis.url);
    return d.visible === 0 && d.inFlight === 0 ? true : undefined;
  }, 'the queues to empty');
  assert.deepEqual(await receiveAll(stack.clients.sqs, stack.emulator.queues.ingestion.dlqUrl, 0), [], 'the test event was acknowledged, not dead-lettered');
});

test('job.succeeded and job.failed events reach the events queue', async () => {
  const events = [];
  for (let i = 0; i < 10; i++) {
    const batch = await receiveAll(stack.clients.sqs, stack.emulator.eventsQueueUrl, 0);
    if (batch.length === 0) break;
    events.push(...batch.map((m) => JobEvent.parse(JSON.parse(m.body))));
  }
  assert.ok(events.some((e) => e.type === 'job.succeeded' && e.jobId === 'pair-0' && e.outputs['record.json']));
  await sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ jobId: 'gone-1', input: { key: 'uploads/nothing/here.csv' } }));
  const failed = await eventually(async () => {
    const batch = await receiveAll(stack.clients.sqs, stack.emulator.eventsQueueUrl);
    return batch.map((m) => JobEvent.parse(JSON.parse(m.body))).find((e) => e.jobId === 'gone-1');
  }, 'the job.failed event');
  assert.equal(failed.type, 'job.failed');
  assert.deepEqual(failed.error && { code: failed.error.code, stage: failed.error.stage }, { code: 'INPUT_NOT_FOUND', stage: 'ingestion' });
});

test('/healthz, /readyz and /metrics answer on the HTTP port', async () => {
  const base = `http://127.0.0.1:${workers[0]!.httpPort}`;
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  const body = (await health.json()) as { ok: boolean; loops: { name: string }[] };
  assert.equal(body.ok, true);
  assert.deepEqual(body.loops.map((l) => l.name), ['ingestion', 'validation', 'analysis']);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  for (const name of ['stageline_messages_received_total', 'stageline_messages_succeeded_total', 'stageline_messages_in_flight', 'stageline_message_duration_seconds_bucket']) {
    assert.match(metrics, new RegExp(`^${name}\\{[^}]*stage="validation"`, 'm'), name);
  }
});

test('stageline healthcheck exits 0 against a healthy worker and 1 when nothing answers', async () => {
  const { healthcheck } = await import('../../src/cli/healthcheck.js');
  assert.equal(await healthcheck(workers[0]!.httpPort), 0);
  const closed = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
  assert.equal(await healthcheck(closed), 1);
});
