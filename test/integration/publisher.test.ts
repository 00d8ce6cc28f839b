import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { z } from 'zod';
import { isInfrastructureError } from '../../src/contract/errors.js';
import { channel, Publisher } from '../../src/queue/publisher.js';
import { receiveAll, startStack, type TestStack } from '../helpers/pipeline.js';

let stack: TestStack;
/** Entries of each SendMessageBatch call the publisher's client made, in order. */
const batchSizes: number[] = [];

before(async () => {
  stack = await startStack();
  stack.clients.sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'SendMessageBatchCommand') batchSizes.push((args.input as { Entries?: unknown[] }).Entries?.length ?? 0);
      return next(args);
    },
    { step: 'initialize', name: 'countBatches' },
  );
});
after(() => stack.stop());

const Note = z.object({ n: z.number().int(), text: z.string().default('') });

async function drain(queueUrl: string, expected: number, timeoutMs = 10_000) {
  const got: { body: string; attributes: Record<string, string> }[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < expected && Date.now() < deadline) got.push(...(await receiveAll(stack.clients.sqs, queueUrl)));
  return got;
}

test('sends made while one is under way share a SendMessageBatch, each message with its own attributes and delay', async () => {
  const notes = channel('events', stack.emulator.eventsQueueUrl, Note);
  // An instrumentation that gives every message an attribute of its own, as tracing does.
  const publisher = new Publisher(stack.clients.sqs, {
    publish: (info, attributes, send) => {
      attributes.size = { DataType: 'Number', StringValue: String(info.bodySize) };
      return send();
    },
    process: (_info, handle) => handle(),
  });
  batchSizes.length = 0;
  const first = publisher.publish(notes, { n: 0 });
  await new Promise((r) => setImmediate(r));
  const rest = Array.from({ length: 12 }, (_, i) => publisher.publish(notes, { n: i + 1, text: 'x'.repeat(i) }));
  const delayed = publisher.publish(notes, { n: 99 }, { delaySeconds: 2 });
  const ids = await Promise.all([first, ...rest, delayed]);

  assert.equal(new Set(ids).size, 14, 'every send resolved with its own message id');
  assert.equal(batchSizes[0], 1, 'the first send, alone in its turn, went at once');
  assert.ok(batchSizes.length <= 3, `14 messages in ${batchSizes.length} calls (${batchSizes.join(', ')})`);

  const now = await drain(stack.emulator.eventsQueueUrl, 13);
  assert.deepEqual(now.map((m) => (JSON.parse(m.body) as { n: number }).n).sort((a, b) => a - b), Array.from({ length: 13 }, (_, i) => i));
  for (const m of now) assert.equal(m.attributes.size, String(Buffer.byteLength(m.body)), 'each message kept its own attribute');
  const later = await drain(stack.emulator.eventsQueueUrl, 1);
  assert.deepEqual(later.map((m) => JSON.parse(m.body)), [{ n: 99, text: '' }], 'the delayed message came after its delay');
});

test('a message SQS refuses fails its own send, as the sender\'s fault, and not the others in its batch', async () => {
  const notes = channel('events', stack.emulator.eventsQueueUrl, Note);
  const publisher = new Publisher(stack.clients.sqs);
  batchSizes.length = 0;
  // U+FFFF survives JSON.stringify and is outside the characters SQS accepts in a body.
  const results = await Promise.allSettled([publisher.publish(notes, { n: 1 }), publisher.publish(notes, { n: 2, text: '\uffff' }), publisher.publish(notes, { n: 3 })]);
  assert.deepEqual(batchSizes, [3], 'the three went in one call');
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  const refused = (results[1] as PromiseRejectedResult).reason as Error;
  assert.equal(refused.name, 'InvalidMessageContents');
  assert.equal(isInfrastructureError(refused), false, 'no outage: the same message would be refused again');
  const got = await drain(stack.emulator.eventsQueueUrl, 2);
  assert.deepEqual(got.map((m) => (JSON.parse(m.body) as { n: number }).n).sort(), [1, 3]);
});
