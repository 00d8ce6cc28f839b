import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { dlq } from '../../src/cli/commands/dlq.js';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import { TransientError } from '../../src/contract/errors.js';
import { JobEvent } from '../../src/contract/job.js';
import { TaskRegistry } from '../../src/pipeline/registry.js';
import { startChildWorker } from '../helpers/child-worker.js';
import { startConditionalStoreProxy, type ConditionalStoreProxy } from '../helpers/conditional-store-proxy.js';
import { eventually, finalStatus, jobStatus, putObject, queueDepth, receiveAll, sendRaw, startStack, startTestWorker, type TestStack } from '../helpers/pipeline.js';
import { RecordingTask } from '../helpers/recording-task.js';

let stack: TestStack;
/** Conditional writes enforced, as on AWS: several watchers may see one dead letter, one of them records it. */
let proxy: ConditionalStoreProxy;
let enforced: AwsClients;

before(async () => {
  stack = await startStack({ maxReceiveCount: 2 }, { VISIBILITY_TIMEOUT_SECONDS: '5' });
  proxy = await startConditionalStoreProxy(stack.emulator.endpoint);
  enforced = createAwsClients({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: proxy.url });
});
after(async () => {
  await proxy.close();
  await stack.stop();
});

const submitCsv = async (jobId: string) => {
  await putObject(stack.clients.s3, 'stageline', `uploads/${jobId}/data.csv`, 'a,b\n1,2\n');
  await sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ jobId, input: { key: `uploads/${jobId}/data.csv` } }));
};

/** The events published for a job: waits for the first, then collects whatever else arrives for a while. */
async function eventsFor(jobId: string): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  const take = async () => {
    const batch = await receiveAll(stack.clients.sqs, stack.emulator.eventsQueueUrl, 1);
    events.push(...batch.map((m) => JobEvent.parse(JSON.parse(m.body))).filter((e) => e.jobId === jobId));
    return batch.length;
  };
  await eventually(async () => (await take(), events.length > 0 ? true : undefined), `an event for ${jobId}`);
  for (const until = Date.now() + 1000; Date.now() < until || (await take()) > 0; ) await take();
  return events;
}

/** Messages in a queue, visible or held by a receiver (a watcher looks at DLQ messages without deleting them). */
async function messagesIn(queueUrl: string): Promise<number> {
  const d = await queueDepth(stack.clients.sqs, queueUrl);
  return d.visible + d.inFlight;
}

test('a worker killed (SIGKILL) on every attempt: the job is failed with DEAD_LETTERED, one job.failed, the message stays in the DLQ', async () => {
  const env = { ...stack.env, AWS_ENDPOINT_URL: proxy.url, LOG_LEVEL: 'info', HTTP_PORT: '0', VISIBILITY_TIMEOUT_SECONDS: '5', SLOW_TASK_MS: '60000' };
  // Two workers from the start, a third after the first kill: whichever runs the job is killed
  // (maxReceiveCount 2), so no worker is alive at the last attempt, and one is left running.
  const alive = new Set([startChildWorker(env), startChildWorker(env)]);
  try {
    await submitCsv('crash-1');
    for (let attempt = 1; attempt <= 2; attempt++) {
      const runner = await eventually(async () => [...alive].find((c) => c.output.some((l) => l.includes('task-started crash-1'))), `attempt ${attempt} to start`, 40_000);
      runner.proc.kill('SIGKILL');
      assert.equal((await runner.exit).signal, 'SIGKILL');
      alive.delete(runner);
      if (attempt === 1) alive.add(startChildWorker(env));
    }
    assert.equal(alive.size, 1);
    assert.equal((await jobStatus(stack.store, 'crash-1'))?.stages.validation?.state, 'running', 'no attempt recorded an outcome');

    // The next receive finds the message over its maxReceiveCount and SQS moves it to the DLQ: the
    // survivor never runs it, its DLQ watcher records it.
    const [survivor] = [...alive];
    assert.ok(survivor);
    const status = await finalStatus(stack.store, 'crash-1', 60_000);
    assert.equal(status.state, 'failed');
    assert.equal(status.error?.code, 'DEAD_LETTERED');
    assert.equal(status.error?.stage, 'validation');
    assert.equal(status.stages.validation?.state, 'failed');
    assert.match(status.error?.message ?? '', /worker stopped on every attempt \(crash, out of memory or kill\)/);
    assert.match(status.error?.message ?? '', /stageline dlq validation --redrive/);

    const events = await eventsFor('crash-1');
    assert.equal(events.length, 1, `one terminal event, got ${events.map((e) => e.type).join(', ')}`);
    assert.equal(events[0]?.type, 'job.failed');
    assert.equal(events[0]?.error?.code, 'DEAD_LETTERED');

    assert.equal(await messagesIn(stack.emulator.queues.validation.dlqUrl), 1, 'the message is left in the DLQ for a redrive');
    assert.ok(!survivor.output.some((l) => l.includes('task-started crash-1')), 'the survivor never ran the job');
  } finally {
    // Every child still running, whatever failed above: a leftover worker would take the next tests' messages.
    for (const child of alive) {
      child.proc.kill('SIGTERM');
      await child.exit;
    }
  }
});

test('the last attempt of a failing job ends DEAD_LETTERED with its error and one job.failed; a redrive reopens it although a watcher holds it', async () => {
  const failing = new RecordingTask('flaky', async () => {
    throw new TransientError('the analysis service is unavailable');
  });
  const registry = new TaskRegistry().register('validation', 'csv', new RecordingTask('validate')).register('analysis', 'csv', failing);
  const worker = await startTestWorker(stack, { clients: enforced, registry });
  try {
    await submitCsv('doomed-1');
    const retrying = await eventually(async () => {
      const s = await jobStatus(stack.store, 'doomed-1');
      return s?.stages.analysis?.state === 'retrying' ? s : undefined;
    }, 'the first failure recorded');
    assert.equal(retrying.state, 'running', 'a retry is not final');

    const status = await finalStatus(stack.store, 'doomed-1', 60_000);
    assert.equal(status.error?.code, 'DEAD_LETTERED');
    assert.equal(status.error?.stage, 'analysis');
    assert.equal(status.stages.analysis?.attempts, 2);
    assert.match(status.error?.message ?? '', /after 2 attempts/);
    assert.match(status.error?.message ?? '', /Last error: TRANSIENT_ERROR: Attempt 2 failed, the last before the dead-letter queue: the analysis service is unavailable/);
    const events = await eventsFor('doomed-1');
    assert.deepEqual(events.map((e) => [e.type, e.error?.code]), [['job.failed', 'DEAD_LETTERED']]);
    assert.equal(await messagesIn(stack.emulator.queues.analysis.dlqUrl), 1);

    // Someone holds the DLQ message invisible (as a watcher's sweep does) when the redrive starts.
    const held = await stack.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: stack.emulator.queues.analysis.dlqUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 2, WaitTimeSeconds: 1 }),
    );
    assert.equal(held.Messages?.length, 1);
    const moved = await dlq(stack.clients.sqs, stack.config, 'analysis', true);
    assert.equal(moved.length, 1, 'the redrive waited for the held message and moved it');
    assert.match(moved[0]?.body ?? '', /doomed-1/);
    // The redriven message reopens the job: a new attempt history.
    const reopened = await eventually(async () => {
      const s = await jobStatus(stack.store, 'doomed-1');
      return s?.state === 'running' ? s : undefined;
    }, 'the job reopened by the redrive');
    assert.equal(reopened.error, undefined);
    assert.equal(reopened.stages.analysis?.attempts, 1);
  } finally {
    await worker.stop();
  }
});
