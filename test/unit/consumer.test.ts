import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { z } from 'zod';
import { BatchDeleter } from '../../src/queue/batch-deleter.js';
import { QueueConsumer } from '../../src/queue/consumer.js';
import { done, type Outcome } from '../../src/queue/outcome.js';

type Sent = ReceiveMessageCommand | DeleteMessageBatchCommand | ChangeMessageVisibilityCommand;

/** An in-memory stand-in for SQS that records every call: enough to check the consumer's bookkeeping. */
function fakeSqs(bodies: string[]) {
  const calls: Sent[] = [];
  let next = 0;
  const client = {
    async send(command: Sent, options?: { abortSignal?: AbortSignal }) {
      calls.push(command);
      if (command instanceof ReceiveMessageCommand) {
        const max = command.input.MaxNumberOfMessages ?? 1;
        const messages: Message[] = bodies.slice(next, next + max).map((Body, i) => ({
          Body,
          MessageId: `m${next + i}`,
          ReceiptHandle: `r${next + i}`,
          Attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()) },
        }));
        next += messages.length;
        if (messages.length === 0) {
          // An empty long poll: wait until aborted.
          await new Promise((_, reject) => options?.abortSignal?.addEventListener('abort', () => reject(new Error('aborted'))));
        }
        return { Messages: messages };
      }
      if (command instanceof DeleteMessageBatchCommand) return { Successful: command.input.Entries, Failed: [] };
      return {};
    },
  };
  return { client: client as unknown as SQSClient, calls };
}

const logger = pino({ level: 'silent' });
const schema = z.object({ n: z.number() });

/** Runs a consumer over the fake queue until `count` messages were handled, then stops and drains it. */
async function consumeAll(client: SQSClient, count: number, concurrency: number, handler: (m: z.infer<typeof schema>) => Promise<Outcome>): Promise<void> {
  let handled = 0;
  const consumer = new QueueConsumer({
    name: 't',
    sqs: client,
    queueUrl: 'q',
    schema,
    concurrency,
    logger,
    handler: async (m) => {
      const outcome = await handler(m);
      handled += 1;
      return outcome;
    },
  });
  consumer.start();
  while (handled < count) await new Promise((r) => setTimeout(r, 5));
  await consumer.stopReceiving();
  assert.equal(await consumer.drain(1000), true);
}

test('never asks for more messages than it has free slots', async () => {
  const { client, calls } = fakeSqs(Array.from({ length: 40 }, (_, i) => JSON.stringify({ n: i })));
  let running = 0;
  let maxRunning = 0;
  await consumeAll(client, 40, 7, async () => {
    running += 1;
    maxRunning = Math.max(maxRunning, running);
    await new Promise((r) => setTimeout(r, 5));
    running -= 1;
    return done;
  });
  assert.equal(maxRunning, 7);
  const asked = calls.filter((c): c is ReceiveMessageCommand => c instanceof ReceiveMessageCommand).map((c) => c.input.MaxNumberOfMessages ?? 0);
  assert.ok(asked.every((n) => n >= 1 && n <= 7), String(asked));
  const deleted = calls.filter((c): c is DeleteMessageBatchCommand => c instanceof DeleteMessageBatchCommand).flatMap((c) => c.input.Entries ?? []);
  assert.equal(deleted.length, 40, 'every message deleted once');
});

test('the outcome decides what happens to the message', async () => {
  const outcomes: Outcome[] = [done, { kind: 'failed', code: 'X', message: 'bad' }, { kind: 'retry', reason: 'later' }, { kind: 'release', reason: 'stop' }];
  const { client, calls } = fakeSqs(outcomes.map((_, i) => JSON.stringify({ n: i })));
  await consumeAll(client, outcomes.length, 4, async (m) => outcomes[m.n]!);
  const deleted = calls.filter((c) => c instanceof DeleteMessageBatchCommand).flatMap((c) => (c as DeleteMessageBatchCommand).input.Entries?.map((e) => e.ReceiptHandle) ?? []);
  assert.deepEqual(deleted.sort(), ['r0', 'r1'], 'done and failed are deleted');
  const visibility = Object.fromEntries(
    calls.filter((c): c is ChangeMessageVisibilityCommand => c instanceof ChangeMessageVisibilityCommand).map((c) => [c.input.ReceiptHandle, c.input.VisibilityTimeout]),
  );
  assert.ok((visibility.r2 ?? 0) > 0, 'retry waits before the next attempt');
  assert.equal(visibility.r3, 0, 'release makes it visible at once');
});

test('the batch deleter sends one request per turn and reports each failure to its own caller', async () => {
  const requests: DeleteMessageBatchCommand[] = [];
  const client = {
    async send(command: DeleteMessageBatchCommand) {
      requests.push(command);
      const entries = command.input.Entries ?? [];
      return { Successful: entries.filter((e) => e.ReceiptHandle !== 'bad'), Failed: entries.filter((e) => e.ReceiptHandle === 'bad').map((e) => ({ Id: e.Id, Code: 'ReceiptHandleIsInvalid', SenderFault: true })) };
    },
  } as unknown as SQSClient;
  const deleter = new BatchDeleter(client, 'q');
  const results = await Promise.allSettled(['a', 'b', 'bad', 'c'].map((h) => deleter.delete(h)));
  assert.equal(requests.length, 1);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  const many = await Promise.allSettled(Array.from({ length: 23 }, (_, i) => deleter.delete(`h${i}`)));
  assert.ok(many.every((r) => r.status === 'fulfilled'));
  assert.deepEqual(requests.slice(1).map((r) => r.input.Entries?.length), [10, 10, 3]);
});
