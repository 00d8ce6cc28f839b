import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeaseLostError } from '../../src/contract/errors.js';
import { combinedOutcome, done, outcomeUnderLease, type Outcome } from '../../src/queue/outcome.js';

const failed: Outcome = { kind: 'failed', code: 'CSV_EMPTY', message: 'empty' };
const retry: Outcome = { kind: 'retry', reason: '503' };
const deadLetter: Outcome = { kind: 'dead-letter', reason: 'not JSON' };
const release: Outcome = { kind: 'release', reason: 'shutdown', delaySeconds: 0, infrastructure: false };
const abandoned: Outcome = { kind: 'abandoned', reason: 'lease lost' };

test('a message standing for several jobs takes the outcome that holds it most', () => {
  assert.equal(combinedOutcome([]), done, 'an S3 test event: nothing to do, delete it');
  assert.equal(combinedOutcome([done, done]).kind, 'done');
  assert.equal(combinedOutcome([done, failed, done]).kind, 'failed', 'a failed job is recorded: the message can go');
  assert.equal(combinedOutcome([failed, retry, done]).kind, 'retry', 'one job to retry keeps the whole message');
  assert.equal(combinedOutcome([retry, release]).kind, 'release', 'a release spends no attempt: it beats a retry');
  assert.equal(combinedOutcome([release, abandoned, retry]).kind, 'abandoned', 'a lost lease leaves the message alone');
  assert.equal(combinedOutcome([deadLetter, failed]).kind, 'dead-letter');
  assert.equal(combinedOutcome([retry, deadLetter]).kind, 'retry');
  // Ties keep the first: its reason is the one reported.
  const first: Outcome = { kind: 'retry', reason: 'first' };
  assert.equal(combinedOutcome([first, { kind: 'retry', reason: 'second' }]), first);
});

test('once the lease is lost only finished work stands', () => {
  const lost = new AbortController();
  lost.abort(new LeaseLostError('no extension for 60 s'));
  for (const outcome of [failed, retry, deadLetter, release]) {
    assert.deepEqual(outcomeUnderLease(outcome, lost.signal), { kind: 'abandoned', reason: 'no extension for 60 s' }, outcome.kind);
  }
  assert.equal(outcomeUnderLease(done, lost.signal), done, 'the next stage was sent: deleting is right');
  const shutdown = AbortSignal.abort(new Error('shutdown'));
  for (const outcome of [done, failed, retry, release]) assert.equal(outcomeUnderLease(outcome, shutdown), outcome, `${outcome.kind} under a plain abort`);
  assert.equal(outcomeUnderLease(retry, new AbortController().signal), retry);
});
