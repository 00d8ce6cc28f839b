import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortedError, BadInputError, BadMessageError, TransientError } from '../../src/errors.js';
import { outcomeForError, retryDelaySeconds } from '../../src/queue/outcome.js';

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
