import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Worker } from '../../src/daemon/worker.js';
import { TransientError } from '../../src/contract/errors.js';
import { deadLetterReasonAttribute } from '../../src/queue/redrive.js';
import { TaskRegistry } from '../../src/pipeline/registry.js';
import {
  eventually,
  finalStatus,
  jobStatus,
  putObject,
  queueDepth,
  receiveAll,
  sendRaw,
  startStack,
  startTestWorker,
  type TestStack,
} from '../helpers/pipeline.js';
import { RecordingTask } from '../helpers/recording-task.js';

let stack: TestStack;
let worker: Worker;
let failNextStatusWrite = false;
const flaky = new RecordingTask('flaky', async (ctx, attempt) => {
  if (ctx.job.jobId.startsWith('flaky') && attempt === 1) throw new TransientError('simulated 503 from a downstream service');
  if (ctx.job.jobId.startsWith('doomed')) throw new TransientError('always unavailable');
});
const slow = new RecordingTask('slow', async (ctx) => {
  if (ctx.job.jobId.startsWith('slow')) await new Promise((r) => setTimeout(r, 8000));
});

/** Fails one S3 PutObject of a status document the way S3 does under load (503 SlowDown), before the SDK's own retries. */
function injectS3Failure(s3: S3Client): void {
  s3.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { Key?: string; Body?: unknown };
      if (failNextStatusWrite && input.Body !== undefined && input.Key?.startsWith('jobs/s3fail') && input.Key.endsWith('status.json')) {
        failNextStatusWrite = false;
        throw Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
      }
      return next(args);
    },
    { step: 'initialize', name: 'injectS3Failure' },
  );
}

before(async () => {
  stack = await startStack({ maxReceiveCount: 2 }, { VISIBILITY_TIMEOUT_SECONDS: '5' });
  injectS3Failure(stack.clients.s3);
  const registry = new TaskRegistry().register('validation', 'csv', flaky).register('validation', 'csv', slow);
  worker = await startTestWorker(stack, { registry });
});
after(async () => {
  await worker.stop();
  await stack.stop();
});

const ingestionUrl = () => stack.emulator.queues.ingestion.url;
const submitCsv = async (jobId: string) => {
  await putObject(stack.clients.s3, 'stageline', `uploads/${jobId}/data.csv`, 'a,b\n1,2\n');
  await sendRaw(stack.clients.sqs, ingestionUrl(), JSON.stringify({ jobId, input: { key: `uploads/${jobId}/data.csv` } }));
};

test('a body that is not JSON goes straight to the DLQ with the reason, never retried', async () => {
  await sendRaw(stack.clients.sqs, ingestionUrl(), '{not json');
  const [moved] = await eventually(async () => {
    const m = await receiveAll(stack.clients.sqs, stack.emulator.queues.ingestion.dlqUrl);
    return m.length ? m : undefined;
  }, 'the message in the DLQ');
  assert.equal(moved?.body, '{not json');
  assert.match(moved?.attributes[deadLetterReasonAttribute] ?? '', /not valid JSON/);
  // Sent to the DLQ first, then deleted from the source queue.
  await eventually(async () => {
    const depth = await queueDepth(stack.clients.sqs, ingestionUrl());
    return depth.visible === 0 && depth.inFlight === 0 ? true : undefined;
  }, 'the original deleted');
});

test('JSON that matches no message schema is dead-lettered with the failing field named', async () => {
  await sendRaw(stack.clients.sqs, stack.emulator.queues.validation.url, JSON.stringify({ jobId: 'x', kind: 'hologram', input: { bucket: 'b', key: 'k' } }));
  const [moved] = await eventually(async () => {
    const m = await receiveAll(stack.clients.sqs, stack.emulator.queues.validation.dlqUrl);
    return m.length ? m : undefined;
  }, 'the message in the validation DLQ');
  assert.match(moved?.attributes[deadLetterReasonAttribute] ?? '', /kind/);
});

test('a missing input fails the job with a code, and its message is deleted', async () => {
  await sendRaw(stack.clients.sqs, ingestionUrl(), JSON.stringify({ jobId: 'missing-1', input: { key: 'uploads/nope.csv' } }));
  const status = await finalStatus(stack.store, 'missing-1');
  assert.equal(status.state, 'failed');
  assert.equal(status.stages.ingestion?.error?.code, 'INPUT_NOT_FOUND');
  assert.match(status.stages.ingestion?.error?.message ?? '', /uploads\/nope\.csv/);
  await eventually(async () => ((await queueDepth(stack.clients.sqs, ingestionUrl())).inFlight === 0 ? true : undefined), 'the message deleted');
  assert.deepEqual(await receiveAll(stack.clients.sqs, stack.emulator.queues.ingestion.dlqUrl, 0), []);
});

test('content that is neither audio nor CSV fails with UNSUPPORTED_INPUT', async () => {
  const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
  await putObject(stack.clients.s3, 'stageline', 'uploads/junk/file.bin', junk);
  await sendRaw(stack.clients.sqs, ingestionUrl(), JSON.stringify({ jobId: 'junk-1', input: { key: 'uploads/junk/file.bin' } }));
  const status = await finalStatus(stack.store, 'junk-1');
  assert.equal(status.stages.ingestion?.error?.code, 'UNSUPPORTED_INPUT');
});

test('a transient task failure is retried and the status records the attempts', async () => {
  await submitCsv('flaky-1');
  const retrying = await eventually(async () => {
    const s = await jobStatus(stack.store, 'flaky-1');
    return s?.stages.validation?.state === 'retrying' ? s : undefined;
  }, 'the retrying state');
  assert.equal(retrying.stages.validation?.error?.code, 'TRANSIENT_ERROR');
  const status = await finalStatus(stack.store, 'flaky-1');
  assert.equal(status.state, 'succeeded');
  assert.equal(status.stages.validation?.attempts, 2);
  assert.equal(status.stages.validation?.error, undefined);
});

test('a status write that S3 refuses (503 SlowDown) is retried in place, not dropped', async () => {
  failNextStatusWrite = true;
  await submitCsv('s3fail-1');
  const status = await finalStatus(stack.store, 's3fail-1');
  assert.equal(failNextStatusWrite, false, 'the failure was injected');
  assert.equal(status.state, 'succeeded');
  assert.equal(status.stages.ingestion?.attempts, 1, 'the write waited and tried again: the message was not spent');
});

test("after the queue's maxReceiveCount the message is in the DLQ and the status says so", async () => {
  await submitCsv('doomed-1');
  const status = await finalStatus(stack.store, 'doomed-1');
  assert.equal(status.state, 'failed');
  assert.equal(status.stages.validation?.error?.code, 'DEAD_LETTERED');
  assert.match(status.stages.validation?.error?.message ?? '', /dlq validation --redrive/);
  const moved = await eventually(async () => {
    const m = await receiveAll(stack.clients.sqs, stack.emulator.queues.validation.dlqUrl);
    return m.find((x) => x.body.includes('doomed-1'));
  }, 'SQS to move the message to the DLQ', 20_000);
  assert.ok(moved);
});

test('a job longer than the visibility timeout keeps its message invisible (heartbeat) and runs once', async () => {
  await submitCsv('slow-1');
  const status = await finalStatus(stack.store, 'slow-1');
  assert.equal(status.state, 'succeeded');
  assert.equal(status.stages.validation?.attempts, 1);
  assert.equal(slow.runs.filter((r) => r.jobId === 'slow-1').length, 1, 'never redelivered while running');
});
