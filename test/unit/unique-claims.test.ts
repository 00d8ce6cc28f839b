import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { z } from 'zod';
import type { JobStatus } from '../../src/contract/status-document.js';
import type { Versioned, WriteCondition, Written } from '../../src/storage/object-store.js';
import { claimHeld, defaultUniqueKey, UniqueClaims } from '../../src/pipeline/unique-claims.js';

/** An in-memory bucket that enforces conditional writes as S3 does, one write at a time. */
class EnforcingStore {
  readonly objects = new Map<string, { text: string; etag: string }>();
  private version = 0;
  ignoreConditions = false;

  async getJsonVersioned<S extends z.ZodType>(key: string, schema: S): Promise<Versioned<z.infer<S>> | undefined> {
    await Promise.resolve();
    const found = this.objects.get(key);
    return found ? { value: schema.parse(JSON.parse(found.text)), etag: found.etag } : undefined;
  }

  async putJsonIf(key: string, value: unknown, condition: WriteCondition): Promise<Written | false> {
    await Promise.resolve();
    const current = this.objects.get(key);
    if (!this.ignoreConditions) {
      if ('ifNoneMatch' in condition && current) return false;
      if ('ifMatch' in condition && current?.etag !== condition.ifMatch) return false;
    }
    const etag = `"v${++this.version}"`;
    this.objects.set(key, { text: JSON.stringify(value), etag });
    return { etag };
  }
}

const t0 = new Date('2026-12-03T10:00:00Z');
const status = (jobId: string, state: JobStatus['state'], updatedAt = t0.toISOString()): JobStatus => ({
  jobId,
  state,
  input: { bucket: 'b', key: 'uploads/x.csv' },
  stages: {},
  outputs: {},
  updatedAt,
});

function setup(now = t0) {
  const store = new EnforcingStore();
  const statuses = new Map<string, JobStatus>();
  const claims = new UniqueClaims(store, { get: async (jobId: string) => statuses.get(jobId) }, () => now);
  return { store, statuses, claims };
}

test('ten requests racing for one key: exactly one claims it, nine name it as the job that covers them', async () => {
  const { claims } = setup();
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => claims.claim('nightly', `job-${i}`, undefined)));
  const winners = results.flatMap((r, i) => (r.claimed ? [`job-${i}`] : []));
  assert.equal(winners.length, 1);
  for (const r of results) if (!r.claimed) assert.equal(r.duplicateOf, winners[0]);
});

test('the holder itself (a redelivery or a hop) keeps its claim', async () => {
  const { claims } = setup();
  assert.deepEqual(await claims.claim('k', 'job-a', undefined), { claimed: true });
  assert.deepEqual(await claims.claim('k', 'job-a', undefined), { claimed: true });
});

test('a claim is taken over once its job failed or was cancelled, and held while it runs', async () => {
  const { claims, statuses } = setup();
  await claims.claim('k', 'job-a', undefined);
  statuses.set('job-a', status('job-a', 'running'));
  assert.deepEqual(await claims.claim('k', 'job-b', undefined), { claimed: false, duplicateOf: 'job-a' });
  statuses.set('job-a', status('job-a', 'failed'));
  assert.deepEqual(await claims.claim('k', 'job-b', undefined), { claimed: true });
  statuses.set('job-b', status('job-b', 'cancelled'));
  assert.deepEqual(await claims.claim('k', 'job-c', undefined), { claimed: true });
});

test('racing takeovers of an ended claim: one wins', async () => {
  const { claims, statuses } = setup();
  await claims.claim('k', 'job-a', undefined);
  statuses.set('job-a', status('job-a', 'succeeded'));
  const results = await Promise.all(['job-b', 'job-c', 'job-d'].map((id) => claims.claim('k', id, undefined)));
  assert.equal(results.filter((r) => r.claimed).length, 1);
});

test('claimHeld: `for` after success, forever, and an unconfirmed claim for 15 minutes', () => {
  const claim = { claimedAt: t0.toISOString() };
  const later = (s: number) => new Date(t0.getTime() + s * 1000);
  for (const state of ['scheduled', 'queued', 'running'] as const) assert.equal(claimHeld(claim, status('a', state), later(1e6)), true, state);
  assert.equal(claimHeld(claim, status('a', 'succeeded'), later(1)), false, 'without for, success releases it');
  assert.equal(claimHeld({ ...claim, for: 60 }, status('a', 'succeeded'), later(59)), true);
  assert.equal(claimHeld({ ...claim, for: 60 }, status('a', 'succeeded'), later(61)), false);
  assert.equal(claimHeld({ ...claim, for: 'forever' }, status('a', 'succeeded'), later(1e9)), true);
  assert.equal(claimHeld({ ...claim, for: 'forever' }, status('a', 'failed'), later(1)), false, 'a failed job never holds it');
  assert.equal(claimHeld(claim, undefined, later(14 * 60)), true, 'its claimer is between its two writes');
  assert.equal(claimHeld(claim, undefined, later(16 * 60)), false, 'abandoned');
});

test('a store that ignores conditional writes: requests that do not race are still deduplicated', async () => {
  const { claims, store } = setup();
  store.ignoreConditions = true;
  await claims.claim('k', 'job-a', undefined);
  assert.deepEqual(await claims.claim('k', 'job-b', undefined), { claimed: false, duplicateOf: 'job-a' });
});

test('defaultUniqueKey: the same content and options give one key; another ETag, key or option another', () => {
  const input = { bucket: 'b', key: 'uploads/a.csv' };
  const k = defaultUniqueKey(input, '"abc"', 'csv', { csv: { maxErrorRate: 0.1, schemaKey: 'uploads/s.json' } });
  assert.equal(defaultUniqueKey(input, 'abc', 'csv', { csv: { schemaKey: 'uploads/s.json', maxErrorRate: 0.1 } }), k, 'key order and ETag quotes do not matter');
  assert.notEqual(defaultUniqueKey(input, '"abd"', 'csv', { csv: { maxErrorRate: 0.1, schemaKey: 'uploads/s.json' } }), k);
  assert.notEqual(defaultUniqueKey({ ...input, key: 'uploads/b.csv' }, '"abc"', 'csv', { csv: { maxErrorRate: 0.1, schemaKey: 'uploads/s.json' } }), k);
  assert.notEqual(defaultUniqueKey(input, '"abc"', 'csv', { csv: { maxErrorRate: 0.2, schemaKey: 'uploads/s.json' } }), k);
});
