import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { BadInputError } from '../../src/contract/errors.js';
import { CircuitBreaker, observeCalls, type Probe } from '../../src/queue/circuit-breaker.js';

const slowDown = () => Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });

function capturingLogger() {
  const lines: { msg: string; service?: string; err?: string; openForMs?: number; probes?: number }[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

/** A probe that fails with SlowDown `failures` times, then answers; it records when it was called. */
function flakyProbe(failures: number) {
  const calls: number[] = [];
  const probe: Probe = async () => {
    calls.push(Date.now());
    if (calls.length <= failures) throw slowDown();
  };
  return { probe, calls };
}

/** Lets promise chains run after a mocked timer fired (setImmediate is not mocked). */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};
async function advance(t: TestContext, ms: number): Promise<void> {
  t.mock.timers.tick(ms);
  await settle();
}

test('opens on an infrastructure error only, logs once however many calls fail, probes until one answers, then closes', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { logger, lines } = capturingLogger();
  const { probe, calls } = flakyProbe(2);
  const breaker = new CircuitBreaker({ service: 's3', probe, logger, random: () => 1 });

  breaker.recordFailure(new BadInputError('CSV_NOT_TEXT', 'not text'));
  breaker.recordFailure(Object.assign(new Error('Request aborted'), { name: 'AbortError', cause: slowDown() }));
  breaker.recordFailure(new Error('a bug in a task'));
  assert.equal(breaker.open, false, 'bad input, an abort and an ordinary error say nothing about the service');

  breaker.recordFailure(slowDown());
  breaker.recordFailure(slowDown());
  breaker.recordFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  assert.equal(breaker.open, true);
  await advance(t, 499);
  assert.equal(calls.length, 0, 'the first probe waits for its delay');
  await advance(t, 1);
  assert.equal(calls.length, 1);
  await advance(t, 1000);
  assert.equal(calls.length, 2, 'second probe after the doubled delay');
  assert.equal(breaker.open, true);
  await advance(t, 2000);
  assert.equal(calls.length, 3);
  assert.equal(breaker.open, false, 'the first probe that answers closes it');

  assert.deepEqual(
    lines.map((l) => l.msg),
    ['s3 is failing: receives paused while it is probed', 's3 answers again: receives resumed'],
    'one line on opening, one on closing, none per failed call or probe',
  );
  assert.equal(lines[0]?.err, 'Please reduce your request rate.');
  assert.equal(lines[1]?.openForMs, 3500);
  assert.equal(lines[1]?.probes, 3);
  breaker.stop();
});

test('probe delays double from the base, are capped, and are jittered over their upper half', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const randoms = [0, 1, 0.5, 0.25, 0.75, 0, 1, 0.5, 0.1, 0.9, 0.3, 0.6];
  let i = 0;
  const { probe, calls } = flakyProbe(Infinity);
  const breaker = new CircuitBreaker({ service: 'sqs', probe, logger: pino({ level: 'silent' }), random: () => randoms[i++]! });
  breaker.recordFailure(slowDown());
  const delays: number[] = [];
  for (let n = 0; n < randoms.length; n++) {
    const exp = Math.min(30_000, 500 * 2 ** n);
    const expected = Math.round(exp / 2 + (randoms[n]! * exp) / 2);
    assert.ok(expected >= exp / 2 && expected <= exp);
    await advance(t, expected - 1);
    assert.equal(calls.length, n, `probe ${n} not before ${expected} ms`);
    await advance(t, 1);
    assert.equal(calls.length, n + 1, `probe ${n} after ${expected} ms`);
    delays.push(expected);
  }
  assert.deepEqual(delays.slice(0, 6), [250, 1000, 1500, 2500, 7000, 8000], 'doubling from 0.5 s, each within [exp/2, exp]');
  assert.ok(delays.slice(6).every((d) => d >= 15_000 && d <= 30_000), 'capped at 30 s');
  assert.ok(new Set(delays.slice(6)).size > 1, 'jittered once capped, so workers do not probe in step');
  breaker.stop();
  await advance(t, 120_000);
  assert.equal(calls.length, randoms.length, 'stop() ends probing');
});

test('whenClosed: at once while closed; while open until it closes, or until the signal aborts', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { probe } = flakyProbe(1);
  const breaker = new CircuitBreaker({ service: 's3', probe, logger: pino({ level: 'silent' }), random: () => 1 });
  let resolvedClosed = false;
  await breaker.whenClosed(new AbortController().signal).then(() => (resolvedClosed = true));
  assert.ok(resolvedClosed);

  breaker.recordFailure(slowDown());
  const waits = { closed: false, aborted: false };
  void breaker.whenClosed(new AbortController().signal).then(() => (waits.closed = true));
  const abort = new AbortController();
  void breaker.whenClosed(abort.signal).then(() => (waits.aborted = true));
  await settle();
  assert.deepEqual(waits, { closed: false, aborted: false });
  abort.abort();
  await settle();
  assert.deepEqual(waits, { closed: false, aborted: true }, 'an aborted wait ends while the breaker stays open');
  await advance(t, 500);
  assert.equal(breaker.open, true, 'first probe failed');
  await advance(t, 1000);
  assert.equal(breaker.open, false);
  assert.deepEqual(waits, { closed: true, aborted: true });
});

test('a call that started before the breaker closed does not reopen it; stop() lets waiters go', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { probe, calls } = flakyProbe(0);
  const breaker = new CircuitBreaker({ service: 's3', probe, logger: pino({ level: 'silent' }), random: () => 1 });
  const startedDuringOutage = Date.now();
  breaker.recordFailure(slowDown(), startedDuringOutage);
  await advance(t, 500);
  assert.equal(breaker.open, false);
  breaker.recordFailure(slowDown(), startedDuringOutage);
  assert.equal(breaker.open, false, 'its failure belongs to the outage already over');
  await advance(t, 1);
  breaker.recordFailure(slowDown());
  assert.equal(breaker.open, true, 'a call started after closing is news');
  let released = false;
  void breaker.whenClosed(new AbortController().signal).then(() => (released = true));
  breaker.stop();
  await settle();
  assert.ok(released, 'nothing waits on a stopped breaker');
  await advance(t, 60_000);
  assert.equal(calls.length, 1, 'no probe after stop()');
});

test('reopening soon after closing starts probing one step later each time; a quiet spell resets it', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { probe, calls } = flakyProbe(0);
  const breaker = new CircuitBreaker({ service: 's3', probe, logger: pino({ level: 'silent' }), random: () => 1 });
  const firstProbeDelay = async () => {
    const before = calls.length;
    breaker.recordFailure(slowDown());
    let waited = 0;
    while (calls.length === before) {
      await advance(t, 100);
      waited += 100;
    }
    assert.equal(breaker.open, false);
    return waited;
  };
  assert.equal(await firstProbeDelay(), 500);
  assert.equal(await firstProbeDelay(), 1000, 'the probe answers but calls keep failing: back off');
  assert.equal(await firstProbeDelay(), 2000);
  await advance(t, 30_000);
  assert.equal(await firstProbeDelay(), 500, 'failing again after 30 s of calm is a new outage');
  breaker.stop();
});

test('a probe answered with an error that is not an outage closes it: the service is up', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const probe: Probe = async () => {
    throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
  };
  const breaker = new CircuitBreaker({ service: 's3', probe, logger: pino({ level: 'silent' }), random: () => 1 });
  breaker.recordFailure(slowDown());
  await advance(t, 500);
  assert.equal(breaker.open, false);
});

test('observeCalls: a real SDK call answered 503 trips the breaker and reaches the caller unchanged; an abort does not trip it', async (t) => {
  let hang = false;
  const server = createServer((req, res) => {
    req.resume();
    if (hang) return; // never answers: the call is aborted by the caller
    const body = JSON.stringify({ __type: 'com.amazonaws.sqs#ServiceUnavailable', message: 'down for the test' });
    res.writeHead(503, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const sqs = new SQSClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
  const call = (signal?: AbortSignal) =>
    sqs.send(new GetQueueAttributesCommand({ QueueUrl: 'http://127.0.0.1/000000000000/q', AttributeNames: ['QueueArn'] }), signal ? { abortSignal: signal } : {});
  const probes: number[] = [];
  const breaker = new CircuitBreaker({ service: 'sqs', probe: async () => void probes.push(1), logger: pino({ level: 'silent' }), baseDelayMs: 60_000 });
  t.after(() => breaker.stop());
  const detach = observeCalls(sqs, breaker);

  hang = true;
  const abort = new AbortController();
  const aborted = call(abort.signal);
  setTimeout(() => abort.abort(new Error('shutdown')), 50);
  await assert.rejects(aborted, { name: 'AbortError' });
  assert.equal(breaker.open, false, 'an abort is ours, not the service failing');

  hang = false;
  await assert.rejects(call(), (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(err.name, 'ServiceUnavailable');
    assert.equal(err.$metadata?.httpStatusCode, 503);
    return true;
  });
  assert.equal(breaker.open, true);

  const other = new CircuitBreaker({ service: 'sqs', probe: async () => {}, logger: pino({ level: 'silent' }) });
  t.after(() => other.stop());
  const detachOther = observeCalls(sqs, other);
  detach();
  await assert.rejects(call(), { name: 'ServiceUnavailable' });
  assert.equal(other.open, true, 'a second observer of the same client coexists with the first');
  detachOther();
});
