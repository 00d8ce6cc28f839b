import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { z } from 'zod';
import { BatchDeleter } from '../../src/queue/batch-deleter.js';
import { QueueConsumer, type ConsumerOptions } from '../../src/queue/consumer.js';
import type { ProcessInfo } from '../../src/queue/instrumentation.js';
import { done, type Outcome } from '../../src/queue/outcome.js';

type Sent = ReceiveMessageCommand | DeleteMessageBatchCommand | ChangeMessageVisibilityCommand | ChangeMessageVisibilityBatchCommand | SendMessageCommand;

/** An in-memory stand-in for SQS that records every call: enough to check the consumer's bookkeeping. */
function fakeSqs(bodies: string[], receiveCount = 1) {
  const calls: Sent[] = [];
  let next = 0;
  const client = {
    async send(command: Sent, options?: { abortSignal?: AbortSignal }) {
      calls.push(command);
      if (command instanceof ReceiveMessageCommand) {
        const take = () => {
          const max = command.input.MaxNumberOfMessages ?? 1;
          const messages: Message[] = bodies.slice(next, next + max).map((Body, i) => ({
            Body,
            MessageId: `m${next + i}`,
            ReceiptHandle: `r${next + i}`,
            // Only what the receive asks for, as SQS answers.
            Attributes: Object.fromEntries(
              Object.entries({ ApproximateReceiveCount: String(receiveCount), SentTimestamp: String(Date.now() - 40) }).filter(([name]) => command.input.MessageSystemAttributeNames?.includes(name as 'SentTimestamp')),
            ),
          }));
          next += messages.length;
          return messages;
        };
        let messages = take();
        if (messages.length === 0) {
          // An empty long poll: messages sent meanwhile are returned when it ends, as SQS does.
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(resolve, (command.input.WaitTimeSeconds ?? 0) * 1000);
            options?.abortSignal?.addEventListener('abort', () => {
              clearTimeout(timer);
              reject(new Error('aborted'));
            });
          });
          messages = take();
        }
        return { Messages: messages };
      }
      if (command instanceof DeleteMessageBatchCommand) return { Successful: command.input.Entries, Failed: [] };
      return {};
    },
  };
  return { client: client as unknown as SQSClient, calls, raw: client };
}

const logger = pino({ level: 'silent' });
const schema = z.object({ n: z.number() });

/** Runs a consumer over the fake queue until `count` messages were handled, then stops and drains it. */
/** A consumer of queue 'q' as every test here builds it (one slot, 1 s polls), with the test's own options. */
function consumerOf(sqs: SQSClient, options: Partial<ConsumerOptions<typeof schema>> & Pick<ConsumerOptions<typeof schema>, 'handler'>): QueueConsumer<typeof schema> {
  return new QueueConsumer({ name: 't', sqs, queueUrl: 'q', schema, concurrency: 1, logger, waitTimeSeconds: 1, ...options });
}

async function consumeAll(client: SQSClient, count: number, concurrency: number, handler: (m: z.infer<typeof schema>) => Promise<Outcome>): Promise<void> {
  let handled = 0;
  const consumer = consumerOf(client, {
    concurrency,
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
  const outcomes: Outcome[] = [done, { kind: 'failed', code: 'X', message: 'bad' }, { kind: 'retry', reason: 'later' }, { kind: 'release', reason: 'stop', delaySeconds: 0, infrastructure: false }];
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

test('the batch deleter sends the deletes of one turn in one request (ten at most) and reports each failure to its own caller', async () => {
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

test('SIGTERM during a long poll: the receive is not cut off, and what it brings back is released at once, not handled', async () => {
  const bodies: string[] = [];
  const { client, calls } = fakeSqs(bodies);
  let handled = 0;
  const consumer = consumerOf(client, {
    concurrency: 10,
    handler: async () => {
      handled += 1;
      return done;
    },
  });
  consumer.start();
  await new Promise((r) => setTimeout(r, 50));
  const stopping = consumer.stopReceiving();
  // Messages arrive while the long poll is still open: SQS hands them to it.
  bodies.push(...Array.from({ length: 5 }, (_, i) => JSON.stringify({ n: i })));
  await stopping;
  assert.equal(handled, 0, 'nothing received after stop is started');
  const released = calls
    .filter((c): c is ChangeMessageVisibilityBatchCommand => c instanceof ChangeMessageVisibilityBatchCommand)
    .flatMap((c) => c.input.Entries ?? []);
  assert.deepEqual(released.map((e) => e.ReceiptHandle).sort(), ['r0', 'r1', 'r2', 'r3', 'r4']);
  assert.ok(released.every((e) => e.VisibilityTimeout === 0));
});

test('a closed gate holds receives back until it opens, and health says paused, not stuck', async () => {
  const { client, calls } = fakeSqs([JSON.stringify({ n: 1 })]);
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const consumer = consumerOf(client, {
    gates: [{ whenClosed: (signal) => Promise.race([opened, new Promise<void>((r) => signal.addEventListener('abort', () => r()))]) }],
    handler: async () => done,
  });
  consumer.start();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(calls.filter((c) => c instanceof ReceiveMessageCommand).length, 0, 'no receive while the gate is closed');
  assert.equal(consumer.health().state, 'paused');
  open();
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(calls.some((c) => c instanceof ReceiveMessageCommand));
  await consumer.stopReceiving();
  await consumer.drain(1000);
});

test('a loop whose only slot holds a long job reports busy', async () => {
  const { client } = fakeSqs([JSON.stringify({ n: 1 })]);
  let finish!: () => void;
  const consumer = consumerOf(client, {
    handler: () => new Promise<Outcome>((r) => (finish = () => r(done))),
  });
  consumer.start();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(consumer.health().state, 'busy');
  finish();
  await consumer.stopReceiving();
  await consumer.drain(1000);
});

test('an outage on the last attempt renews the message instead of letting SQS dead-letter it', async () => {
  const { client, calls } = fakeSqs([JSON.stringify({ n: 1 })], 3);
  const consumer = consumerOf(client, {
    redrive: { deadLetterQueueUrl: 'dlq', maxReceiveCount: 3 },
    handler: async () => ({ kind: 'release', reason: 'S3 503', delaySeconds: 12, infrastructure: true }),
  });
  consumer.start();
  await new Promise((r) => setTimeout(r, 100));
  await consumer.stopReceiving();
  await consumer.drain(1000);
  const sent = calls.filter((c): c is SendMessageCommand => c instanceof SendMessageCommand);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]?.input.QueueUrl, 'q', 'the copy goes back to the same queue');
  assert.equal(sent[0]?.input.DelaySeconds, 12);
  assert.equal(sent[0]?.input.MessageBody, JSON.stringify({ n: 1 }));
  const deleted = calls.filter((c) => c instanceof DeleteMessageBatchCommand).flatMap((c) => (c as DeleteMessageBatchCommand).input.Entries ?? []);
  assert.deepEqual(deleted.map((e) => e.ReceiptHandle), ['r0'], 'the spent original is deleted after the copy was sent');
});

test('a lost lease aborts the job and the message is left alone', async () => {
  const { raw, calls } = fakeSqs([JSON.stringify({ n: 1 })]);
  // Every visibility extension fails: after one visibility timeout the lease is lost.
  const failingExtensions = {
    send(command: Sent, options?: { abortSignal?: AbortSignal }) {
      if (command instanceof ChangeMessageVisibilityCommand) {
        calls.push(command);
        return Promise.reject(Object.assign(new Error('service unavailable'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } }));
      }
      return raw.send(command, options);
    },
  } as unknown as SQSClient;
  let reason: unknown;
  const consumer = consumerOf(failingExtensions, {
    visibilityTimeoutSeconds: 5,
    handler: (_m, ctx) =>
      new Promise<Outcome>((_resolve, reject) =>
        ctx.signal.addEventListener('abort', () => {
          reason = ctx.signal.reason;
          reject(ctx.signal.reason);
        }),
      ),
  });
  consumer.start();
  const deadline = Date.now() + 15_000;
  while (reason === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await consumer.stopReceiving();
  await consumer.drain(1000);
  assert.ok(reason instanceof Error && reason.name === 'LeaseLostError', String(reason));
  const extensions = calls.filter((c) => c instanceof ChangeMessageVisibilityCommand);
  assert.ok(extensions.length >= 2, 'it kept trying after the first failure');
  assert.ok(extensions.every((c) => (c as ChangeMessageVisibilityCommand).input.VisibilityTimeout === 5), 'no release: the message is not ours any more');
  assert.equal(calls.filter((c) => c instanceof DeleteMessageBatchCommand).length, 0, 'not deleted');
});

test('a handler that looks at its signal only after the in-flight work was aborted sees it aborted, and its message is released', async () => {
  const { client, calls } = fakeSqs([JSON.stringify({ n: 1 })]);
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  let proceed!: () => void;
  const aborted = new Promise<void>((r) => (proceed = r));
  let seen: unknown;
  const consumer = consumerOf(client, {
    handler: async (_m, ctx) => {
      started();
      await aborted;
      seen = ctx.signal.reason;
      ctx.signal.throwIfAborted();
      return done;
    },
  });
  consumer.start();
  await running;
  await consumer.stopReceiving();
  const abort = consumer.abortInFlight('drain timeout');
  proceed();
  await abort;
  assert.ok(seen instanceof Error && seen.message === 'drain timeout', String(seen));
  assert.equal(calls.filter((c) => c instanceof DeleteMessageBatchCommand).length, 0, 'not deleted');
  const released = calls.filter((c): c is ChangeMessageVisibilityCommand => c instanceof ChangeMessageVisibilityCommand);
  assert.deepEqual(released.map((c) => [c.input.ReceiptHandle, c.input.VisibilityTimeout]), [['r0', 0]]);
});

test('the observer hears the in-flight count once per received batch, and 0 once all settled', async () => {
  const { client } = fakeSqs(Array.from({ length: 4 }, (_, i) => JSON.stringify({ n: i })));
  const counts: number[] = [];
  const settled: string[] = [];
  let received = 0;
  let handled = 0;
  const consumer = consumerOf(client, {
    concurrency: 4,
    observer: { received: (n) => (received += n), inFlightChanged: (n) => counts.push(n), settled: (o) => settled.push(o.kind) },
    handler: async () => {
      handled += 1;
      return done;
    },
  });
  consumer.start();
  while (handled < 4 || consumer.inFlightCount > 0) await new Promise((r) => setTimeout(r, 5));
  await consumer.stopReceiving();
  assert.equal(received, 4);
  assert.equal(counts[0], 4, 'the whole batch at once, not 1, 2, 3, 4');
  assert.equal(counts.at(-1), 0);
  assert.deepEqual(settled, ['done', 'done', 'done', 'done']);
});

test('instrumentation wraps each handler call and learns what the queue knows of the message', async () => {
  const { client } = fakeSqs([JSON.stringify({ n: 7 })], 2);
  const seen: { info: ProcessInfo; inside: boolean }[] = [];
  let wrapping = false;
  let insideHandler = false;
  let handled = 0;
  const consumer = consumerOf(client, {
    instrumentation: {
      publish: (_info, _attributes, send) => send(),
      async process(info, handle) {
        wrapping = true;
        try {
          const result = await handle();
          seen.push({ info, inside: insideHandler });
          return result;
        } finally {
          wrapping = false;
        }
      },
    },
    handler: async () => {
      insideHandler = wrapping;
      handled += 1;
      return done;
    },
  });
  consumer.start();
  while (handled < 1) await new Promise((r) => setTimeout(r, 5));
  await consumer.stopReceiving();
  assert.equal(await consumer.drain(1000), true);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.inside, true, 'the handler ran inside process()');
  assert.deepEqual({ ...seen[0]?.info, receiveLatencyMs: 0 }, { queueUrl: 'q', messageId: 'm0', receiveCount: 2, receiveLatencyMs: 0, attributes: {}, bodySize: 7 });
  assert.ok((seen[0]?.info.receiveLatencyMs ?? 0) >= 40, 'the latency comes from the SentTimestamp it asked for');
});

test('a receive asks for the send time only when tracing uses it; the receive count always', async () => {
  const asked = async (instrumentation: Parameters<typeof consumerOf>[1]['instrumentation']) => {
    const { client, calls } = fakeSqs([JSON.stringify({ n: 1 })], 3);
    let handled = 0;
    const consumer = consumerOf(client, { ...(instrumentation ? { instrumentation } : {}), handler: async () => ((handled += 1), done) });
    consumer.start();
    while (handled < 1) await new Promise((r) => setTimeout(r, 5));
    await consumer.stopReceiving();
    const receive = calls.find((c): c is ReceiveMessageCommand => c instanceof ReceiveMessageCommand);
    return receive?.input.MessageSystemAttributeNames;
  };
  assert.deepEqual(await asked(undefined), ['ApproximateReceiveCount']);
  assert.deepEqual(await asked({ publish: (_i, _a, send) => send(), process: (_info, handle) => handle() }), ['ApproximateReceiveCount', 'SentTimestamp']);
});
