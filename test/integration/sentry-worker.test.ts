import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as Sentry from '@sentry/node';
import type { Worker } from '../../src/daemon/worker.js';
import { IngestionMessage } from '../../src/tasks/index.js';
import { channel, Publisher } from '../../src/queue/publisher.js';
import { captureJobError, createSentryInstrumentation, flushSentry, initSentry } from '../../src/daemon/sentry.js';
import { TaskRegistry } from '../../src/pipeline/registry.js';
import { TransientError } from '../../src/contract/errors.js';
import { finalStatus, putObject, startStack, startTestWorker, type TestStack } from '../helpers/pipeline.js';
import { RecordingTask } from '../helpers/recording-task.js';
import { EnvelopeSink } from '../helpers/sentry-sink.js';

const sink = new EnvelopeSink();
let stack: TestStack;
let worker: Worker;

before(async () => {
  initSentry(`http://public@127.0.0.1:${await sink.start()}/1`, { tracesSampleRate: 1 });
  stack = await startStack();
  let failedOnce = false;
  const analyse = new RecordingTask('analyse', async () => {
    if (!failedOnce) {
      failedOnce = true;
      throw new TransientError('analysis backend unavailable');
    }
  });
  worker = await startTestWorker(stack, {
    registry: new TaskRegistry().register('validation', 'csv', new RecordingTask('validate')).register('analysis', 'csv', analyse),
    instrumentation: createSentryInstrumentation(),
    reportError: (err, tags) => void captureJobError(err, tags),
  });
});
after(async () => {
  await worker.stop();
  await stack.stop();
  await sink.close();
});

test('through the real worker, all three stages of a job share one trace, and its errors carry the job tags', async () => {
  await putObject(stack.clients.s3, 'stageline', 'uploads/traced/data.csv', 'a\n1\n');
  // The submitting web app is traced too: its publish starts the trace the stages continue.
  const publisher = new Publisher(stack.clients.sqs, createSentryInstrumentation());
  await Sentry.startSpan({ name: 'POST /upload', op: 'http.server' }, () =>
    publisher.publish(channel('ingestion', stack.emulator.queues.ingestion.url, IngestionMessage), { jobId: 'traced-1', input: { key: 'uploads/traced/data.csv' } }),
  );
  assert.equal((await finalStatus(stack.store, 'traced-1', 40_000)).state, 'succeeded');
  assert.equal(await flushSentry(2000), true);
  await sink.waitFor((s) => s.spans.filter((x) => x.op === 'queue.process').length >= 4 && s.errors.length >= 1);

  const processed = sink.spans.filter((s) => s.op === 'queue.process');
  const queues = new Set(processed.map((s) => s.data['messaging.destination.name']));
  assert.deepEqual(queues, new Set(['stageline-ingestion', 'stageline-validation', 'stageline-analysis']));
  const traceIds = new Set([...processed, ...sink.spans.filter((s) => s.op === 'queue.publish')].map((s) => s.traceId));
  assert.equal(traceIds.size, 1, 'one trace from the upload to the last stage');
  const retried = processed.find((s) => s.data['messaging.destination.name'] === 'stageline-analysis' && s.data['messaging.message.retry.count'] === 1);
  assert.ok(retried, 'the retried analysis delivery says so');
  const [error] = sink.errors;
  assert.equal(error?.contexts.trace.trace_id, [...traceIds][0]);
  assert.deepEqual(error && { jobId: error.tags.jobId, stage: error.tags.stage }, { jobId: 'traced-1', stage: 'analysis' });
});
