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

test('extends visibility every third of the timeout, from now, until stopped', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { sqs, beats } = client();
  const stop = startHeartbeat({ sqs, queueUrl: 'q', receiptHandle: 'r', visibilityTimeoutSeconds: 30, logger: pino({ level: 'silent' }) });
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
});

test('a beat that finds the message gone stops the heartbeat without throwing', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const gone = () => Object.assign(new Error('The receipt handle has expired.'), { name: 'ReceiptHandleIsInvalid' });
  const { sqs, beats } = client(gone);
  startHeartbeat({ sqs, queueUrl: 'q', receiptHandle: 'r', visibilityTimeoutSeconds: 6, logger: pino({ level: 'silent' }) });
  for (let i = 0; i < 5; i++) {
    t.mock.timers.tick(2_000);
    await settle();
  }
  assert.equal(beats.length, 1);
});
