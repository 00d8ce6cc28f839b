import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { z } from 'zod';
import { TaskRegistry } from '../../src/pipeline/registry.js';
import { finalStatus, putObject, sendRaw, startStack, startTestWorker, type TestStack } from '../helpers/pipeline.js';
import { RecordingTask } from '../helpers/recording-task.js';
import type { Worker } from '../../src/daemon/worker.js';

let stack: TestStack;
let worker: Worker;
const ingest = new RecordingTask('ingest-record');
const validate = new RecordingTask('validate-record');
const analyse = new RecordingTask('analyse-record');

before(async () => {
  stack = await startStack();
  const registry = new TaskRegistry()
    .register('ingestion', 'csv', ingest)
    .register('validation', 'csv', validate)
    .register('analysis', 'csv', analyse);
  worker = await startTestWorker(stack, { registry });
});
after(async () => {
  await worker.stop();
  await stack.stop();
});

test('a job request passes through all three stages and the status document records each', async () => {
  await putObject(stack.clients.s3, 'stageline', 'uploads/a/data.csv', 'a,b\n1,2\n');
  await sendRaw(stack.clients.sqs, stack.config.SQS_INGESTION_QUEUE_URL!, JSON.stringify({ jobId: 'job-a', input: { key: 'uploads/a/data.csv' } }));
  const status = await finalStatus(stack.store, 'job-a');
  assert.equal(status.state, 'succeeded');
  assert.equal(status.kind, 'csv');
  for (const stage of ['ingestion', 'validation', 'analysis'] as const) {
    assert.equal(status.stages[stage]?.state, 'succeeded', stage);
    assert.equal(status.stages[stage]?.attempts, 1);
    assert.ok(status.stages[stage]?.durationMs !== undefined);
  }
  assert.deepEqual(Object.keys(status.outputs).sort(), ['analyse-record.json', 'ingest-record.json', 'validate-record.json']);
  // Later stages see the earlier stages' outputs in their message.
  const seen = await stack.store.getJson(status.outputs['analyse-record.json']!, z.object({ earlierOutputs: z.record(z.string(), z.string()) }));
  assert.deepEqual(Object.keys(seen!.earlierOutputs).sort(), ['ingest-record.json', 'validate-record.json']);
});
