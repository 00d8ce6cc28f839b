import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortedError, BadInputError, BadMessageError, LeaseLostError, TransientError } from '../../src/contract/errors.js';
import { infrastructureReleaseDelaySeconds, isLastAttempt, outcomeForError, retryDelaySeconds } from '../../src/queue/outcome.js';

test('typed errors decide the outcome', () => {
  assert.equal(outcomeForError(new BadMessageError('x')).kind, 'dead-letter');
  assert.deepEqual(outcomeForError(new BadInputError('CSV_EMPTY', 'empty')), { kind: 'failed', code: 'CSV_EMPTY', message: 'empty' });
  assert.equal(outcomeForError(new TransientError('503')).kind, 'retry');
  assert.equal(outcomeForError(new Error('unexpected')).kind, 'retry', 'unknown errors are retried, bounded by maxReceiveCount');
  assert.equal(outcomeForError(new AbortedError()).kind, 'release');
  const aborted = AbortSignal.abort();
  assert.equal(outcomeForError(new Error('socket hang up'), aborted).kind, 'release');
});

test('retry delay grows with attempts and is capped', () => {
  for (let attempt = 1; attempt <= 12; attempt++) {
    const d = retryDelaySeconds(attempt, 5, 900);
    const exp = Math.min(900, 5 * 2 ** (attempt - 1));
    assert.ok(d >= Math.floor(exp / 2) && d <= exp, `attempt ${attempt}: ${d}`);
  }
  assert.ok(retryDelaySeconds(30) <= 900);
});

const s3SlowDown = () => Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });

test('a failing store or queue releases the message with a delay and spends nothing', () => {
  const outcome = outcomeForError(s3SlowDown());
  assert.equal(outcome.kind, 'release');
  assert.ok(outcome.kind === 'release' && outcome.infrastructure && outcome.delaySeconds >= 10 && outcome.delaySeconds <= 30);
  // Wrapped by a task: the cause decides.
  assert.equal(outcomeForError(new Error('upload failed', { cause: s3SlowDown() })).kind, 'release');
  assert.equal(outcomeForError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).kind, 'release');
});

test('the order of the decision: lost lease, unusable body, interruption, bad input, outage, the rest', () => {
  const lease = new AbortController();
  lease.abort(new LeaseLostError());
  assert.equal(outcomeForError(new BadInputError('X', 'bad'), lease.signal).kind, 'abandoned', 'a lost lease wins: nothing is written');
  assert.equal(outcomeForError(new BadMessageError('x'), AbortSignal.abort()).kind, 'dead-letter');
  const stopping = AbortSignal.abort(new AbortedError('shutdown'));
  const interrupted = outcomeForError(new BadInputError('AUDIO_CORRUPT', 'ffmpeg died'), stopping);
  assert.deepEqual(interrupted, { kind: 'release', reason: 'shutdown', delaySeconds: 0, infrastructure: false }, 'a tool killed by shutdown is not bad input');
  assert.equal(outcomeForError(s3SlowDown(), stopping).kind, 'release');
});

test('the last attempt is the queue maxReceiveCount, and only with a redrive policy', () => {
  assert.equal(isLastAttempt(4, 5), false);
  assert.equal(isLastAttempt(5, 5), true);
  assert.equal(isLastAttempt(50, undefined), false);
  assert.ok([0, 0.5, 0.999].every((r) => { const d = infrastructureReleaseDelaySeconds(() => r); return d >= 10 && d <= 30; }));
});
