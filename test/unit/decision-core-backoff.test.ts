import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import { LeaseLostError } from '../../src/contract/errors.js';
import { abortableSleep, jitteredBackoff } from '../../src/queue/backoff.js';
import { infrastructureReleaseDelaySeconds, isLastAttempt, retryDelaySeconds } from '../../src/queue/outcome.js';

const fixed = (r: number) => () => r;
const randoms = [0, 0.25, 0.5, 0.999999];

test('backoff: exact waits for base 5, cap 900 (the retry delay defaults)', () => {
  // attempt:            0  1   2   3   4    5    6    7    8    9   10
  const lowest = [3, 5, 10, 20, 40, 80, 160, 320, 450, 450, 450]; // random 0: half, 2.5 rounds up
  const middle = [4, 8, 15, 30, 60, 120, 240, 480, 675, 675, 675]; // random 0.5: three quarters
  const highest = [5, 10, 20, 40, 80, 160, 320, 640, 900, 900, 900]; // random → 1: all of it, capped
  for (let attempt = 0; attempt <= 10; attempt++) {
    assert.equal(jitteredBackoff(attempt, 5, 900, fixed(0)), lowest[attempt], `attempt ${attempt}, random 0`);
    assert.equal(jitteredBackoff(attempt, 5, 900, fixed(0.5)), middle[attempt], `attempt ${attempt}, random 0.5`);
    assert.equal(jitteredBackoff(attempt, 5, 900, fixed(0.999999)), highest[attempt], `attempt ${attempt}, random 0.999999`);
  }
});

test('backoff: within [half, all] of min(cap, base·2^n), never above cap, monotone in the attempt', () => {
  const shapes: [base: number, cap: number][] = [[5, 900], [1, 30], [100, 30_000], [1000, 60_000], [7, 7], [50, 10], [250, 2 ** 31]];
  for (const [base, cap] of shapes) {
    for (const r of randoms) {
      let previous = -Infinity;
      for (let attempt = -3; attempt <= 40; attempt++) {
        const d = jitteredBackoff(attempt, base, cap, fixed(r));
        const where = `base ${base} cap ${cap} attempt ${attempt} random ${r}: ${d}`;
        // Every cap here is reached before attempt 30, so this bound is the documented one.
        const exp = Math.min(cap, base * 2 ** Math.max(0, attempt));
        assert.ok(Number.isSafeInteger(d), where);
        assert.ok(d >= Math.round(exp / 2) && d <= exp, where);
        assert.ok(d <= cap, where);
        assert.ok(d >= previous, `${where}: shorter than attempt ${attempt - 1} (${previous})`);
        previous = d;
      }
    }
  }
});

test('backoff: huge and negative attempts stay finite', () => {
  for (const attempt of [31, 100, 1_000_000, Number.MAX_SAFE_INTEGER, Infinity]) {
    for (const r of randoms) {
      const capped = jitteredBackoff(attempt, 5, 900, fixed(r));
      assert.equal(capped, jitteredBackoff(10, 5, 900, fixed(r)), `attempt ${attempt}: at the cap`);
      // Without a finite cap, the exponent itself stops at 2^30: the wait is finite, not Infinity.
      const uncapped = jitteredBackoff(attempt, 5, Infinity, fixed(r));
      assert.ok(Number.isFinite(uncapped), `attempt ${attempt}, no cap: ${uncapped}`);
      assert.equal(uncapped, jitteredBackoff(30, 5, Infinity, fixed(r)));
    }
  }
  for (const attempt of [-1, -40, -Infinity]) {
    for (const r of randoms) assert.equal(jitteredBackoff(attempt, 5, 900, fixed(r)), jitteredBackoff(0, 5, 900, fixed(r)), `attempt ${attempt} waits like the first`);
  }
});

test('backoff: with Math.random, jittered and in bounds', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const d = jitteredBackoff(6, 5, 900);
    assert.ok(d >= 160 && d <= 320, `${d}`);
    seen.add(d);
  }
  assert.ok(seen.size > 1, 'replicas must spread out');
});

test('retry delay: receive count n waits like backoff attempt n-1', () => {
  assert.equal(retryDelaySeconds(1, 5, 900, fixed(0)), 3);
  assert.equal(retryDelaySeconds(1, 5, 900, fixed(0.999999)), 5);
  assert.equal(retryDelaySeconds(2, 5, 900, fixed(0.999999)), 10);
  assert.equal(retryDelaySeconds(9, 5, 900, fixed(0)), 450);
  assert.equal(retryDelaySeconds(9, 5, 900, fixed(0.999999)), 900);
  // Defaults: base 5 s, cap 900 s.
  assert.equal(retryDelaySeconds(1, undefined, undefined, fixed(0.999999)), 5);
  assert.equal(retryDelaySeconds(1000, undefined, undefined, fixed(0.999999)), 900);
  // A count of 0 or less (never sent by SQS) waits like the first delivery, not less.
  assert.equal(retryDelaySeconds(0, 5, 900, fixed(0)), 3);
  assert.equal(retryDelaySeconds(-5, 5, 900, fixed(0.999999)), 5);
});

test('outage release delay: 10 to 30 s, integral, from the random draw', () => {
  assert.equal(infrastructureReleaseDelaySeconds(fixed(0)), 10);
  assert.equal(infrastructureReleaseDelaySeconds(fixed(0.25)), 15);
  assert.equal(infrastructureReleaseDelaySeconds(fixed(0.5)), 20);
  assert.equal(infrastructureReleaseDelaySeconds(fixed(0.999999)), 30);
  for (let i = 0; i < 100; i++) {
    const d = infrastructureReleaseDelaySeconds();
    assert.ok(Number.isInteger(d) && d >= 10 && d <= 30, `${d}`);
  }
});

test('last attempt: at or above maxReceiveCount, never without a redrive policy', () => {
  const cases: [receiveCount: number, maxReceiveCount: number | undefined, last: boolean][] = [
    [1, 5, false],
    [4, 5, false],
    [5, 5, true],
    [6, 5, true], // SQS's count is approximate: a count past the limit is still the last
    [1, 1, true], // maxReceiveCount 1: the first delivery is the only one
    [2, 1, true],
    [1, undefined, false],
    [1000, undefined, false],
  ];
  for (const [receiveCount, max, last] of cases) assert.equal(isLastAttempt(receiveCount, max), last, `isLastAttempt(${receiveCount}, ${max})`);
});

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('abortableSleep: waits the time without a signal, and with a live one, then removes its listener', async () => {
  let started = performance.now();
  await abortableSleep(30);
  assert.ok(performance.now() - started >= 25, 'slept');

  const c = new AbortController();
  started = performance.now();
  const sleeping = abortableSleep(30, c.signal);
  assert.equal(getEventListeners(c.signal, 'abort').length, 1, 'listens while sleeping');
  assert.equal(await sleeping, undefined);
  assert.ok(performance.now() - started >= 25, 'slept');
  assert.equal(getEventListeners(c.signal, 'abort').length, 0, 'a long-lived signal does not collect listeners');
});

test('abortableSleep: an abort ends it early, resolving (never rejecting), and clears its timer', async () => {
  const before = timers();
  const c = new AbortController();
  const started = performance.now();
  const sleeping = abortableSleep(60_000, c.signal);
  setTimeout(() => c.abort(new LeaseLostError()), 10);
  assert.equal(await sleeping, undefined, 'resolves even though the reason is an error');
  assert.ok(performance.now() - started < 5_000, 'ended by the abort, not the timer');
  assert.equal(getEventListeners(c.signal, 'abort').length, 0);
  assert.equal(timers(), before, 'no 60 s timer left to hold the process open');
});

test('abortableSleep: an already-aborted signal resolves at once, with no timer and no listener', async () => {
  const before = timers();
  const signal = AbortSignal.abort(new Error('stopped'));
  let resolved = false;
  const sleeping = abortableSleep(60_000, signal).then(() => {
    resolved = true;
  });
  assert.equal(timers(), before, 'no timer started');
  assert.equal(getEventListeners(signal, 'abort').length, 0);
  await new Promise((r) => setImmediate(r));
  assert.ok(resolved, 'resolved before the next turn of the event loop');
  await sleeping;
});

test('abortableSleep: zero or negative waits resolve', async () => {
  await abortableSleep(0);
  await abortableSleep(-10, new AbortController().signal);
});
