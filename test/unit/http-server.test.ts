import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { startHttpServer } from '../../src/daemon/http-server.js';
import type { LoopHealth } from '../../src/queue/consumer.js';

async function serve(loops: LoopHealth[], ready = true) {
  const server = await startHttpServer({ port: 0, registry: new Registry(), health: { loops: () => loops, ready: () => ready }, maxReceiveMs: 80_000, maxIdleMs: 10_000 });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const loop = (name: string, state: LoopHealth['state'], agoMs: number): LoopHealth => ({ name, state, since: Date.now() - agoMs, inFlight: 0, concurrency: 2 });

test('healthz is 200 for a loop busy with long jobs, or paused by a breaker, however long', async () => {
  const { base, close } = await serve([loop('ingestion', 'receiving', 1_000), loop('analysis', 'busy', 3 * 3600_000), loop('validation', 'paused', 3600_000)]);
  try {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200, JSON.stringify(await res.json()));
  } finally {
    await close();
  }
});

test('healthz is 503 for a receive hung long past its deadline, or a loop that stopped receiving with free slots', async () => {
  const { base, close } = await serve([loop('ingestion', 'receiving', 10_000), loop('validation', 'receiving', 90_000), loop('analysis', 'idle', 60_000)]);
  try {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 503);
    assert.deepEqual(((await res.json()) as { stuck: string[] }).stuck, ['validation', 'analysis']);
  } finally {
    await close();
  }
});

test('a past event-loop stall is reported, not judged: the loop answers now', async () => {
  const { base, close } = await serve([loop('ingestion', 'receiving', 0)]);
  try {
    await new Promise((r) => setTimeout(r, 100)); // the delay monitor needs one tick as a baseline
    const until = Date.now() + 600;
    while (Date.now() < until); // a stall on the main thread
    await new Promise((r) => setTimeout(r, 60));
    const res = await fetch(`${base}/healthz`);
    const body = (await res.json()) as { eventLoopDelayMaxMs: number };
    assert.equal(res.status, 200);
    assert.ok(body.eventLoopDelayMaxMs >= 400, String(body.eventLoopDelayMaxMs));
  } finally {
    await close();
  }
});

test('readyz follows readiness', async () => {
  const { base, close } = await serve([], false);
  try {
    assert.equal((await fetch(`${base}/readyz`)).status, 503);
  } finally {
    await close();
  }
});
