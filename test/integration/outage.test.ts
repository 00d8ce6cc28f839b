import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReceiveMessageCommandOutput } from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { createAwsClients } from '../../src/aws/clients.js';
import { stageNames } from '../../src/contract/stages.js';
import { TaskRegistry } from '../../src/pipeline/registry.js';
import { startFaultProxy, type FaultTarget } from '../helpers/fault-proxy.js';
import { finalStatus, putObject, queueDepth, sendRaw, startStack, startTestWorker } from '../helpers/pipeline.js';
import { RecordingTask } from '../helpers/recording-task.js';

/** The contract's target is 15 minutes with maxReceiveCount 5; this is the same outage, shortened. */
const outageSeconds = 25;
const maxReceiveCount = 3;
const jobCount = 6;

/**
 * Six jobs are sent, then the worker's S3 or SQS (behind a fault proxy; the test's own clients talk to the
 * emulator directly) answers 503 for `outageSeconds`. Every job must still succeed with a right status
 * document, nothing may reach a DLQ, and no delivery may come near the retry budget.
 */
async function survivesOutage(target: Exclude<FaultTarget, 'both'>): Promise<void> {
  const stack = await startStack({ maxReceiveCount }, { VISIBILITY_TIMEOUT_SECONDS: '10' });
  const proxy = await startFaultProxy(stack.emulator.endpoint);
  const workerConfig = { ...stack.config, AWS_ENDPOINT_URL: proxy.url };
  const workerClients = createAwsClients(workerConfig);

  const receiveCounts = new Map<string, number>();
  /** When each receive from a stage queue started (a DLQ watcher's receives are not gated). */
  const receivesStartedAt: number[] = [];
  const stageQueueUrls = new Set(stageNames.map((stage) => stack.emulator.queues[stage].url));
  workerClients.sqs.middlewareStack.add(
    (next, context) => async (args) => {
      const queueUrl = (args.input as { QueueUrl?: string }).QueueUrl ?? '';
      if (context.commandName === 'ReceiveMessageCommand' && stageQueueUrls.has(queueUrl)) receivesStartedAt.push(Date.now());
      const result = await next(args);
      if (context.commandName === 'ReceiveMessageCommand') {
        for (const m of (result.output as ReceiveMessageCommandOutput).Messages ?? []) {
          const count = Number(m.Attributes?.ApproximateReceiveCount ?? 1);
          receiveCounts.set(m.MessageId!, Math.max(count, receiveCounts.get(m.MessageId!) ?? 0));
        }
      }
      return result;
    },
    { step: 'initialize', name: 'recordReceiveCounts' },
  );
  const logLines: { msg: string; time: number; service?: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line)) });

  const registry = new TaskRegistry()
    .register('ingestion', 'csv', new RecordingTask('ingest-record'))
    .register('validation', 'csv', new RecordingTask('validate-record'))
    .register('analysis', 'csv', new RecordingTask('analyse-record'));
  const worker = await startTestWorker(stack, { config: workerConfig, clients: workerClients, registry, logger });
  try {
    const jobIds = Array.from({ length: jobCount }, (_, i) => `${target}-outage-${i}`);
    for (const jobId of jobIds) {
      await putObject(stack.clients.s3, stack.emulator.bucket, `uploads/${jobId}/data.csv`, 'a,b\n1,2\n3,4\n');
      await sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ jobId, input: { key: `uploads/${jobId}/data.csv` } }));
    }
    proxy.fail(target, outageSeconds);
    const outageEndsAt = Date.now() + outageSeconds * 1000;

    // Closing takes up to one capped probe interval (30 s) after the outage; released messages return 10-30 s after release.
    const statuses = await Promise.all(jobIds.map((jobId) => finalStatus(stack.store, jobId, (outageSeconds + 120) * 1000)));

    assert.ok(proxy.failed[target] > 0, `the worker met the outage (${proxy.failed[target]} requests answered 503)`);
    for (const status of statuses) {
      assert.equal(status.state, 'succeeded', `${status.jobId}: ${JSON.stringify(status.error)}`);
      assert.equal(status.kind, 'csv');
      for (const stage of stageNames) assert.equal(status.stages[stage]?.state, 'succeeded', `${status.jobId} ${stage}`);
      assert.deepEqual(Object.keys(status.outputs).sort(), ['analyse-record.json', 'ingest-record.json', 'validate-record.json']);
      assert.equal(status.error, undefined);
    }
    for (const stage of stageNames) {
      const dlq = await queueDepth(stack.clients.sqs, stack.emulator.queues[stage].dlqUrl);
      assert.deepEqual(dlq, { visible: 0, inFlight: 0 }, `${stage} DLQ is empty`);
    }
    const worst = Math.max(...receiveCounts.values());
    assert.ok(worst < maxReceiveCount, `the most any message was received is ${worst}, below maxReceiveCount ${maxReceiveCount}`);

    // The breaker opened once, stopped every stage from receiving while open, and closed within one
    // capped probe interval (30 s) of the service answering again.
    const breakerLines = logLines.filter((l) => l.service === target);
    assert.deepEqual(
      breakerLines.map((l) => l.msg),
      [`${target} is failing: receives paused while it is probed`, `${target} answers again: receives resumed`],
    );
    const [opened, closed] = breakerLines.map((l) => l.time) as [number, number];
    assert.ok(closed >= outageEndsAt, 'no probe succeeds during the outage');
    assert.ok(closed - outageEndsAt < 35_000, `closed ${closed - outageEndsAt} ms after the outage ended`);
    // A receive that had passed the gates just before the breaker opened may still start; none after.
    const receivesWhileOpen = receivesStartedAt.filter((at) => at > opened + 1000 && at < closed);
    assert.deepEqual(receivesWhileOpen, [], 'no stage receives while the breaker is open');
  } finally {
    await worker.stop();
    await proxy.close();
    await stack.stop();
  }
}

test('an outage of S3 or SQS loses no job, dead-letters none and spends no retry budget', { concurrency: true }, async (t) => {
  // Both outages at once, each on its own stack, so the file takes one outage's time.
  await Promise.all([
    t.test(`S3 answers 503 SlowDown for ${outageSeconds} s`, () => survivesOutage('s3')),
    t.test(`SQS answers 503 ServiceUnavailable for ${outageSeconds} s`, () => survivesOutage('sqs')),
  ]);
});
