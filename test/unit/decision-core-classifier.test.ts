import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortedError, BadInputError, BadMessageError, LeaseLostError, TransientError } from '../../src/contract/errors.js';
import { outcomeForError, type Outcome } from '../../src/queue/outcome.js';

/**
 * Every error kind × every signal state through outcomeForError. The expected table is written out by
 * hand from the documented order (lost lease → bad message → abort → bad input → infrastructure → retry),
 * so moving a rule changes some cell (swapping bad input and infrastructure changes none: isInfrastructureError
 * itself refuses a BadInputError, so that order is held there).
 */

const s3SlowDown = () => Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });

const errors = {
  lease: () => new LeaseLostError('lease gone'),
  badMessage: () => new BadMessageError('not JSON'),
  aborted: () => new AbortedError('stopped'),
  badInput: () => new BadInputError('CSV_EMPTY', 'empty file'),
  // Bad input wins over the outage it wraps: the decision about the work was already taken.
  badInputOverSlowDown: () => new BadInputError('CSV_NOT_TEXT', 'binary file', { cause: s3SlowDown() }),
  slowDown: s3SlowDown,
  refused: () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
  wrappedSlowDown: () => new Error('upload failed', { cause: new Error('put', { cause: s3SlowDown() }) }),
  transient: () => new TransientError('ffmpeg killed'),
  plain: () => new Error('unexpected'),
  string: () => 'boom',
  undefined: () => undefined,
} satisfies Record<string, () => unknown>;
type ErrorName = keyof typeof errors;

const aborted = (reason?: unknown): AbortSignal => {
  const c = new AbortController();
  c.abort(reason);
  return c.signal;
};

const signals = {
  none: () => undefined,
  live: () => new AbortController().signal,
  abortedNoReason: () => aborted(),
  abortedShutdown: () => aborted(new AbortedError('shutdown')),
  abortedLease: () => aborted(new LeaseLostError('lease expired')),
  abortedBadInput: () => aborted(new BadInputError('AUDIO_CORRUPT', 'corrupt reason')),
} satisfies Record<string, () => AbortSignal | undefined>;
type SignalName = keyof typeof signals;
const signalOrder: SignalName[] = ['none', 'live', 'abortedNoReason', 'abortedShutdown', 'abortedLease', 'abortedBadInput'];

/** An expected outcome; `reason: undefined` leaves the reason unchecked, `delaySeconds: 'jittered'` means 10-30 s. */
type Expected =
  | { kind: 'failed'; code: string; message: string }
  | { kind: 'retry'; reason: string }
  | { kind: 'dead-letter'; reason: string }
  | { kind: 'release'; reason: string; delaySeconds: number | 'jittered'; infrastructure: boolean }
  | { kind: 'abandoned'; reason: string | undefined };

const abandoned = (reason: string | undefined): Expected => ({ kind: 'abandoned', reason });
const deadLetter = (reason: string): Expected => ({ kind: 'dead-letter', reason });
const interrupted = (reason: string): Expected => ({ kind: 'release', reason, delaySeconds: 0, infrastructure: false });
const outage = (reason: string): Expected => ({ kind: 'release', reason, delaySeconds: 'jittered', infrastructure: true });
const failed = (code: string, message: string): Expected => ({ kind: 'failed', code, message });
const retry = (reason: string): Expected => ({ kind: 'retry', reason });

// Node's message for an abort without a reason (a DOMException AbortError).
const noReason = 'This operation was aborted';

// Columns: none | live | aborted (no reason) | aborted (AbortedError) | aborted (LeaseLostError) | aborted (BadInputError)
const expected: Record<ErrorName, Expected[]> = {
  // A lost lease wins over everything. Which message names it when the signal carries another reason is
  // not a contract (the signal's reason is reported today), so those cells leave the reason unchecked.
  lease: [abandoned('lease gone'), abandoned('lease gone'), abandoned(undefined), abandoned(undefined), abandoned('lease expired'), abandoned(undefined)],
  badMessage: [deadLetter('not JSON'), deadLetter('not JSON'), deadLetter('not JSON'), deadLetter('not JSON'), abandoned('lease expired'), deadLetter('not JSON')],
  aborted: [interrupted('stopped'), interrupted('stopped'), interrupted(noReason), interrupted('shutdown'), abandoned('lease expired'), interrupted('corrupt reason')],
  badInput: [failed('CSV_EMPTY', 'empty file'), failed('CSV_EMPTY', 'empty file'), interrupted(noReason), interrupted('shutdown'), abandoned('lease expired'), interrupted('corrupt reason')],
  badInputOverSlowDown: [failed('CSV_NOT_TEXT', 'binary file'), failed('CSV_NOT_TEXT', 'binary file'), interrupted(noReason), interrupted('shutdown'), abandoned('lease expired'), interrupted('corrupt reason')],
  slowDown: [outage('Please reduce your request rate.'), outage('Please reduce your request rate.'), interrupted(noReason), interrupted('shutdown'), abandoned('lease expired'), interrupted('corrupt reason')],
  refused: [outage('connect ECONNREFUSED 127.0.0.1:9'), outage('connect ECONNREFUSED 127.0.0.1:9'), interrupted(noReason), interrupted('shutdown'), abandoned('lease expired'), interrupted('corrupt reason')],
  wrappedSlowDown: [outage('upload failed'), outage('upload failed'), interrupted(noReason), interrupted('shutdown'), abandoned('lease expired'), interrupted('corrupt reason')],
  transient: [retry('ffmpeg killed'), retry('ffmpeg killed'), interrupted(noReason), interrupted('shutdown'), abandoned('lease expired'), interrupted('corrupt reason')],
  plain: [retry('unexpected'), retry('unexpected'), interrupted(noReason), interrupted('shutdown'), abandoned('lease expired'), interrupted('corrupt reason')],
  string: [retry('boom'), retry('boom'), interrupted(noReason), interrupted('shutdown'), abandoned('lease expired'), interrupted('corrupt reason')],
  undefined: [retry('undefined'), retry('undefined'), interrupted(noReason), interrupted('shutdown'), abandoned('lease expired'), interrupted('corrupt reason')],
};

function check(actual: Outcome, want: Expected, where: string): void {
  assert.equal(actual.kind, want.kind, `${where}: kind`);
  if (want.kind === 'release' && actual.kind === 'release') {
    assert.equal(actual.infrastructure, want.infrastructure, `${where}: infrastructure`);
    if (want.delaySeconds === 'jittered') {
      assert.ok(Number.isInteger(actual.delaySeconds) && actual.delaySeconds >= 10 && actual.delaySeconds <= 30, `${where}: delay ${actual.delaySeconds}`);
    } else {
      assert.equal(actual.delaySeconds, want.delaySeconds, `${where}: delay`);
    }
    assert.equal(actual.reason, want.reason, `${where}: reason`);
    return;
  }
  if (want.kind === 'abandoned' && actual.kind === 'abandoned') {
    if (want.reason !== undefined) assert.equal(actual.reason, want.reason, `${where}: reason`);
    else assert.equal(typeof actual.reason, 'string', `${where}: reason`);
    return;
  }
  // failed, retry, dead-letter: the whole outcome, no extra fields.
  assert.deepEqual(actual, want, where);
}

for (const name of Object.keys(errors) as ErrorName[]) {
  test(`classifier: ${name} under every signal state`, () => {
    const row = expected[name];
    assert.equal(row.length, signalOrder.length, 'one expected cell per signal state');
    signalOrder.forEach((signalName, i) => {
      const want = row[i];
      assert.ok(want);
      check(outcomeForError(errors[name](), signals[signalName]()), want, `${name} × ${signalName}`);
    });
  });
}

test('classifier: the outcome is a fresh decision each time; the signal is read, not consumed', () => {
  const c = new AbortController();
  const err = new BadInputError('CSV_EMPTY', 'empty file');
  assert.equal(outcomeForError(err, c.signal).kind, 'failed');
  // The same error, once the signal has fired: now an interruption, not bad input.
  c.abort(new AbortedError('shutdown'));
  assert.equal(outcomeForError(err, c.signal).kind, 'release');
  assert.equal(outcomeForError(err, c.signal).kind, 'release');
});

test('classifier: an outage release delay is jittered across 10-30 s, not fixed', () => {
  const delays = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const o = outcomeForError(s3SlowDown());
    assert.ok(o.kind === 'release');
    delays.add(o.delaySeconds);
  }
  // 200 draws from 21 values: a constant delay would leave replicas retrying in lockstep.
  assert.ok(delays.size > 1, `delays: ${[...delays].join(',')}`);
  for (const d of delays) assert.ok(Number.isInteger(d) && d >= 10 && d <= 30, `delay ${d}`);
});
