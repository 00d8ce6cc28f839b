import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createAwsClients } from '../../src/aws/clients.js';
import { AbortedError } from '../../src/contract/errors.js';
import { JobEvents } from '../../src/pipeline/job-events.js';
import { JobStatusStore } from '../../src/pipeline/job-status.js';
import { type JobIdentity } from '../../src/contract/status-document.js';
import { JobEvent } from '../../src/contract/job.js';
import { outcomeForError } from '../../src/queue/outcome.js';
import { channel, Publisher } from '../../src/queue/publisher.js';
import { ObjectStore } from '../../src/storage/object-store.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { jobStatus, receiveAll, startStack, type TestStack } from '../helpers/pipeline.js';

let stack: TestStack;
let proxy: FaultProxy;
let statuses: JobStatusStore;
let events: JobEvents;
const backoff = { baseMs: 50, capMs: 400 };

before(async () => {
  stack = await startStack();
  proxy = await startFaultProxy(stack.emulator.endpoint);
  const clients = createAwsClients({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: proxy.url });
  statuses = new JobStatusStore(new ObjectStore(clients.s3, stack.emulator.bucket), { backoff });
  events = new JobEvents(new Publisher(clients.sqs), channel('events', stack.emulator.eventsQueueUrl, JobEvent), { backoff });
});
after(async () => {
  await proxy.close();
  await stack.stop();
});

const identity = (jobId: string): JobIdentity => ({ jobId, kind: 'csv', input: { bucket: 'stageline', key: `uploads/${jobId}/data.csv` } });

test('a status write during an S3 outage waits it out and lands; so does a terminal event during an SQS outage', async () => {
  const job = identity('outage-1');
  proxy.fail('s3', 2);
  const failedBefore = proxy.failed.s3;
  const { status, changed } = await statuses.stageStarted(job, 'validation', 1);
  assert.ok(proxy.failed.s3 > failedBefore + 1, 'S3 answered 503 several times meanwhile');
  assert.equal(changed, true);
  assert.equal((await jobStatus(stack.store, job.jobId))?.stages.validation?.state, status.stages.validation?.state);

  proxy.fail('sqs', 2);
  const sqsFailedBefore = proxy.failed.sqs;
  await events.failed(status, 'validation', { code: 'CSV_EMPTY', message: 'empty' });
  assert.ok(proxy.failed.sqs > sqsFailedBefore, 'SQS answered 503 meanwhile');
  const [sent] = await receiveAll(stack.clients.sqs, stack.emulator.eventsQueueUrl);
  assert.equal(JobEvent.parse(JSON.parse(sent?.body ?? '{}')).jobId, job.jobId);
});

test("a status write still waiting when the caller's signal fires gives up with AbortedError, and the message is released", async () => {
  const job = identity('outage-2');
  proxy.fail('s3', 60);
  try {
    const shutdown = new AbortController();
    setTimeout(() => shutdown.abort(new Error('shutdown: drain timeout reached')), 1000);
    const err = await statuses.stageRetrying(job, 'validation', 1, { code: 'TRANSIENT_ERROR', message: 'x' }, shutdown.signal).then(
      () => assert.fail('the write cannot have landed'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AbortedError, String(err));
    assert.equal(outcomeForError(err, shutdown.signal).kind, 'release');
  } finally {
    proxy.heal();
  }
  assert.equal(await jobStatus(stack.store, job.jobId), undefined);
});
