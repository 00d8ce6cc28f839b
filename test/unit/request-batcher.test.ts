import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isInfrastructureError } from '../../src/contract/errors.js';
import { RequestBatcher, type EntryResult } from '../../src/queue/request-batcher.js';
import { BatchEntryError, callSqsBatch } from '../../src/queue/sqs-batch.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A batch call the test answers by hand: each call waits until `answer(i)` is called. */
function heldCalls() {
  const calls: { entries: string[]; answer: (results?: EntryResult<string>[]) => void; fail: (err: Error) => void }[] = [];
  const call = (entries: string[]) =>
    new Promise<EntryResult<string>[]>((resolve, reject) => {
      calls.push({
        entries,
        answer: (results) => resolve(results ?? entries.map((e) => ({ ok: true, value: `id-${e}` }))),
        fail: reject,
      });
    });
  return { calls, call };
}

const limits = { maxEntries: 10, maxBytes: 1000, sizeOf: (e: string) => e.length, maxWaitMs: 50 };

test('a request made while no call is under way goes at once, with the others of its turn', async () => {
  const { calls, call } = heldCalls();
  const batcher = new RequestBatcher(call, limits);
  const a = batcher.add('a');
  const b = batcher.add('b');
  await turn();
  assert.deepEqual(calls.map((c) => c.entries), [['a', 'b']]);
  calls[0]!.answer();
  assert.deepEqual(await Promise.all([a, b]), ['id-a', 'id-b']);
});

test('requests made while a call is under way wait for it to return, then share one call', async () => {
  const { calls, call } = heldCalls();
  const batcher = new RequestBatcher(call, limits);
  const first = batcher.add('a');
  await turn();
  const later = ['b', 'c', 'd'].map((e) => batcher.add(e));
  await turn();
  assert.equal(calls.length, 1, 'nothing more goes while the first call is under way');
  calls[0]!.answer();
  await first;
  assert.deepEqual(calls.map((c) => c.entries), [['a'], ['b', 'c', 'd']]);
  calls[1]!.answer();
  assert.deepEqual(await Promise.all(later), ['id-b', 'id-c', 'id-d']);
});

test('a request waits behind a call that does not return for at most maxWaitMs', async () => {
  const { calls, call } = heldCalls();
  const batcher = new RequestBatcher(call, limits);
  void batcher.add('hangs');
  await turn();
  const started = performance.now();
  const waiting = batcher.add('b');
  while (calls.length < 2) await new Promise((r) => setTimeout(r, 5));
  const waited = performance.now() - started;
  assert.ok(waited >= 45, `went after ${waited.toFixed(0)} ms, not before the wait was up`);
  assert.deepEqual(calls[1]!.entries, ['b']);
  calls[1]!.answer();
  assert.equal(await waiting, 'id-b');
});

test('a full batch goes at once, even while a call is under way; entries and bytes both bound a call', async () => {
  const { calls, call } = heldCalls();
  const batcher = new RequestBatcher(call, limits);
  void batcher.add('hangs');
  await turn();
  const ten = Array.from({ length: 10 }, (_, i) => batcher.add(`m${i}`));
  assert.deepEqual(calls[1]?.entries.length, 10, 'ten entries go without waiting');
  calls[1]!.answer();
  await Promise.all(ten);

  const { calls: sized, call: sizedCall } = heldCalls();
  const byBytes = new RequestBatcher(sizedCall, limits);
  void byBytes.add('x'.repeat(600));
  void byBytes.add('y'.repeat(600));
  void byBytes.add('z'.repeat(2000));
  await turn();
  assert.deepEqual(
    sized.map((c) => c.entries.map((e) => e.length)),
    [[600], [600], [2000]],
    'two entries of 600 do not share a call of 1000; one larger than a call still goes, alone',
  );
});

test('each caller learns how its own entry fared; a failed call fails every entry in it', async () => {
  const { calls, call } = heldCalls();
  const batcher = new RequestBatcher(call, limits);
  const results = ['ok', 'bad', 'ok2'].map((e) => batcher.add(e));
  await turn();
  calls[0]!.answer([
    { ok: true, value: 'id-ok' },
    { ok: false, error: new Error('entry refused') },
    { ok: true, value: 'id-ok2' },
  ]);
  const settled = await Promise.allSettled(results);
  assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled']);

  const whole = ['p', 'q'].map((e) => batcher.add(e));
  await turn();
  const outage = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  calls[1]!.fail(outage);
  for (const s of await Promise.allSettled(whole)) assert.equal(s.status === 'rejected' && s.reason, outage);
});

test("an SQS batch entry's failure is judged as the same single call's would be", async () => {
  const sent: { Id: string }[][] = [];
  const results = await callSqsBatch(
    'SendMessage',
    [{ MessageBody: 'a' }, { MessageBody: 'b' }, { MessageBody: 'c' }, { MessageBody: 'd' }],
    async (numbered) => {
      sent.push(numbered);
      return {
        Successful: [{ Id: '0', MessageId: 'm0' }],
        Failed: [
          { Id: '1', Code: 'InternalError', SenderFault: false },
          { Id: '2', Code: 'InvalidMessageContents', SenderFault: true, Message: 'Invalid characters found.' },
        ],
      };
    },
    (s) => s.MessageId,
  );
  assert.deepEqual(sent[0]!.map((e) => e.Id), ['0', '1', '2', '3'], 'entries are numbered for the call');
  assert.deepEqual(results[0], { ok: true, value: 'm0' });
  const errors = results.slice(1).map((r) => (r.ok ? undefined : r.error));
  assert.ok(errors.every((e) => e instanceof BatchEntryError));
  assert.equal(errors[1]!.name, 'InvalidMessageContents');
  assert.match(errors[1]!.message, /Invalid characters found/);
  assert.deepEqual(
    errors.map((e) => isInfrastructureError(e)),
    [true, false, true],
    "the service's fault is an outage to wait out; the sender's is not; an entry missing from both lists counts as the service's",
  );
  // Not just the name: an unknown code on the service's side is still the service's fault.
  assert.equal(isInfrastructureError(new BatchEntryError('SendMessage', { Code: 'SomethingNew', SenderFault: false })), true);
  assert.equal(isInfrastructureError(new BatchEntryError('SendMessage', { Code: 'SomethingNew', SenderFault: true })), false);
});
