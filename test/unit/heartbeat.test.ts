import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { startHeartbeat } from '../../src/queue/heartbeat.js';

function client(fail?: () => Error) {
  const beats: number[] = [];
  const sqs = {
    async send(command: ChangeMessageVisibilityCommand) {
      beats.push(command.input.VisibilityTimeout ?? -1);
      if (fail) throw fail();
      return {};
    },
  } as unknown as SQSClient;
  return { sqs, beats };
}

/** Lets the fake SQS call settle (setImmediate is not mocked). */
const settle = () => new Promise((r) => setImmediate(r));
const silent = pino({ level: 'silent' });

test('extends visibility every third of the timeout, from now, until stopped', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { sqs, beats } = client();
  const lost: string[] = [];
  const stop = startHeartbeat({ sqs, queueUrl: 'q', receiptHandle: 'r', visibilityTimeoutSeconds: 30, logger: silent, onLeaseLost: (r) => lost.push(r) });
  t.mock.timers.tick(9_999);
  assert.equal(beats.length, 0, 'a short job costs no call');
  t.mock.timers.tick(1);
  await settle();
  t.mock.timers.tick(10_000);
  await settle();
  assert.deepEqual(beats, [30, 30]);
  stop();
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
  startHeartbeat({ sqs, queueUrl: 'q', receiptHandle: 'r', visibilityTimeoutSeconds: 6, logger: silent, onLeaseLost: (r) => lost.push(r) });
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
  startHeartbeat({ sqs, queueUrl: 'q', receiptHandle: 'r', visibilityTimeoutSeconds: 30, logger, onLeaseLost: (r) => lost.push(r) });
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
