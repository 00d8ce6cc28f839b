import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { startHttpServer } from '../../src/daemon/http-server.js';

async function serve(loops: { name: string; running: boolean; lastPollAt: number }[], ready = true) {
  const server = await startHttpServer({ port: 0, registry: new Registry(), health: { loops: () => loops, ready: () => ready }, maxEventLoopDelayMs: 500 });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('healthz is 503 when a running loop has not polled for too long', async () => {
  const { base, close } = await serve([
    { name: 'ingestion', running: true, lastPollAt: Date.now() },
    { name: 'analysis', running: true, lastPollAt: Date.now() - 10 * 60_000 },
  ]);
  try {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 503);
    assert.deepEqual(((await res.json()) as { stuck: string[] }).stuck, ['analysis']);
  } finally {
    await close();
  }
});

test('healthz is 503 after the event loop stalled', async () => {
  const { base, close } = await serve([{ name: 'ingestion', running: true, lastPollAt: Date.now() }]);
  try {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    await new Promise((r) => setTimeout(r, 100)); // the delay monitor needs one tick as a baseline
    const until = Date.now() + 800;
    while (Date.now() < until); // a CPU-bound task on the main thread, which tasks must never do
    await new Promise((r) => setTimeout(r, 60)); // the delay monitor records the stall at its next tick
    const res = await fetch(`${base}/healthz`);
    const body = (await res.json()) as { eventLoopDelayMaxMs: number };
    assert.equal(res.status, 503, JSON.stringify(body));
    assert.ok(body.eventLoopDelayMaxMs >= 500, String(body.eventLoopDelayMaxMs));
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
