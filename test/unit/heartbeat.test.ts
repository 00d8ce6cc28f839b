import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { Heartbeat, type Lease } from '../../src/queue/heartbeat.js';

function client(fail?: () => Error) {
  const beats: number[] = [];
  const handles: string[] = [];
  const sqs = {
    async send(command: ChangeMessageVisibilityCommand) {
      beats.push(command.input.VisibilityTimeout ?? -1);
      handles.push(command.input.ReceiptHandle ?? '');
      if (fail) throw fail();
      return {};
    },
  } as unknown as SQSClient;
  return { sqs, beats, handles };
}

/** Lets the fake SQS call settle (setImmediate is not mocked). */
const settle = () => new Promise((r) => setImmediate(r));
const silent = pino({ level: 'silent' });

function lease(receiptHandle: string, lost: string[], logger: Logger = silent): Lease {
  return { receiptHandle, logger, leaseLost: (reason) => lost.push(reason) };
}

test('extends visibility every third of the timeout, from now, until deleted', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { sqs, beats } = client();
  const lost: string[] = [];
  const heartbeat = new Heartbeat({ sqs, queueUrl: 'q', visibilityTimeoutSeconds: 30 });
  const r = lease('r', lost);
  heartbeat.add(r);
  t.mock.timers.tick(9_999);
  assert.equal(beats.length, 0, 'a short job costs no call');
  t.mock.timers.tick(1);
  await settle();
  t.mock.timers.tick(10_000);
  await settle();
  assert.deepEqual(beats, [30, 30]);
  heartbeat.delete(r);
  t.mock.timers.tick(60_000);
  await settle();
  assert.equal(beats.length, 2, 'no beat after the job ended');
  assert.deepEqual(lost, []);
});

test('a beat that finds the receipt invalid loses the lease at once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const gone = () => Object.assign(new Error('The receipt handle has expired.'), { name: 'ReceiptHandleIsInvalid' });
  const { sqs, beats } = client(gone);
  const lost: string[] = [];
  new Heartbeat({ sqs, queueUrl: 'q', visibilityTimeoutSeconds: 6 }).add(lease('r', lost));
  for (let i = 0; i < 5; i++) {
    t.mock.timers.tick(2_000);
    await settle();
  }
  assert.equal(beats.length, 1);
  assert.equal(lost.length, 1);
});

test('failed extensions are retried and logged; the lease is lost only when the message may be visible again', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let failing = true;
  const beats: number[] = [];
  const sqs = {
    async send() {
      beats.push(Date.now());
      if (failing) throw Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
      return {};
    },
  } as unknown as SQSClient;
  const warnings: unknown[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
  const lost: string[] = [];
  const start = Date.now();
  new Heartbeat({ sqs, queueUrl: 'q', visibilityTimeoutSeconds: 30 }).add(lease('r', lost, logger));
  // First beat at 10 s fails; retries follow every 2 s; the one at 18 s succeeds.
  for (let s = 0; s < 16; s++) {
    t.mock.timers.tick(1_000);
    await settle();
  }
  const failedBeats = beats.length;
  failing = false;
  t.mock.timers.tick(2_000);
  await settle();
  assert.equal(beats.length, failedBeats + 1, 'the next retry went through');
  assert.deepEqual(lost, [], 'a passing failure does not lose the lease');
  assert.ok(failedBeats >= 3, `kept trying (${failedBeats} failed beats)`);
  assert.ok(warnings.length >= failedBeats, 'each failed extension is logged');
  failing = true;
  for (let s = 0; s < 60 && lost.length === 0; s++) {
    t.mock.timers.tick(1_000);
    await settle();
  }
  assert.equal(lost.length, 1);
  const lostAt = Date.now() - start;
  // The success at 18 s renewed the lease to 48 s: it is given up just before that, not earlier than needed.
  assert.ok(lostAt >= 44_000 && lostAt <= 48_000, `lost at ${lostAt} ms`);
});

test('each message beats on its own schedule, and a deleted one stops while the others go on', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { sqs, handles } = client();
  const lost: string[] = [];
  const heartbeat = new Heartbeat({ sqs, queueUrl: 'q', visibilityTimeoutSeconds: 30 });
  const a = lease('a', lost);
  const b = lease('b', lost);
  heartbeat.add(a);
  t.mock.timers.tick(4_000);
  heartbeat.add(b);
  t.mock.timers.tick(6_000);
  await settle();
  assert.deepEqual(handles, ['a'], 'a is due at 10 s, b only at 14 s');
  t.mock.timers.tick(4_000);
  await settle();
  assert.deepEqual(handles, ['a', 'b']);
  heartbeat.delete(a);
  t.mock.timers.tick(10_000);
  await settle();
  assert.deepEqual(handles, ['a', 'b', 'b'], 'b beat again at 24 s; a, deleted, did not at 20 s');
  assert.deepEqual(lost, []);
});

test('messages share one timer, and it never holds the process open', (t) => {
  const { sqs } = client();
  const started = t.mock.method(globalThis, 'setTimeout');
  const refd = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = refd();
  const heartbeat = new Heartbeat({ sqs, queueUrl: 'q', visibilityTimeoutSeconds: 30 });
  for (let batch = 0; batch < 10; batch++) {
    const leases = Array.from({ length: 10 }, (_, i) => lease(`r${batch}-${i}`, []));
    for (const l of leases) heartbeat.add(l);
    for (const l of leases) heartbeat.delete(l);
  }
  assert.equal(started.mock.callCount(), 1, 'one timer for 100 messages in 10 batches');
  assert.equal(refd(), before, 'unref\'d: an idle consumer keeps nothing alive');
});
