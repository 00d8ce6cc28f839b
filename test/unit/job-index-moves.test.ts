import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jobIndexKeys } from '../../src/contract/job-keys.js';
import type { JobStatus } from '../../src/contract/status-document.js';
import { JobIndex } from '../../src/pipeline/job-index.js';
import { MemoryKeys } from '../helpers/memory-keys.js';

const createdAt = '2026-12-03T10:00:00.000Z';
const status = (state: JobStatus['state']): JobStatus => ({
  jobId: 'j1',
  kind: 'csv',
  state,
  input: { bucket: 'b', key: 'uploads/j1.csv' },
  stages: {},
  outputs: {},
  updatedAt: createdAt,
  createdAt,
});
const namesOf = (s: JobStatus) => jobIndexKeys({ jobId: s.jobId, state: s.state, kind: 'csv', input: s.input, createdAt }).sort();

/** Counts the index's writes and deletes. */
class CountingKeys extends MemoryKeys {
  puts = 0;
  deletes = 0;
  override async put(key: string): Promise<void> {
    this.puts++;
    await super.put(key);
  }
  override async delete(key: string): Promise<void> {
    this.deletes++;
    await super.delete(key);
  }
}

test('held moves: a job that changes again within the hold moves once, to its newest names, with nothing to delete', async () => {
  const keys = new CountingKeys();
  const index = new JobIndex(keys, { background: true, holdMs: 200 });
  const queued = status('queued');
  const running = status('running');
  await index.changed(undefined, queued);
  await index.changed(queued, running);
  assert.deepEqual(keys.all(), [], 'nothing is written while the move is held');
  await new Promise((r) => setTimeout(r, 400));
  assert.deepEqual(keys.all(), namesOf(running));
  assert.deepEqual([keys.puts, keys.deletes], [2, 0], 'two writes, no delete: the queued names were never written');
});

test('held moves: a job that ends is listed before changed returns, taking over the move held for it', async () => {
  const keys = new CountingKeys();
  const index = new JobIndex(keys, { background: true, holdMs: 60_000 });
  const running = status('running');
  const succeeded = status('succeeded');
  await index.changed(undefined, running);
  await index.changed(running, succeeded);
  assert.deepEqual(keys.all(), namesOf(succeeded), 'the end is listed at once, not after the hold');
  assert.deepEqual([keys.puts, keys.deletes], [2, 0]);
  await index.settled();
  assert.deepEqual([keys.puts, keys.deletes], [2, 0], 'the held move was not made afterwards');
});

test('held moves: a later change moves from the names written before, and stop (settled) makes held moves at once', async () => {
  const keys = new CountingKeys();
  const index = new JobIndex(keys, { background: true, holdMs: 60_000 });
  const running = status('running');
  await index.changed(undefined, running);
  const started = Date.now();
  await index.settled();
  assert.ok(Date.now() - started < 5_000, 'settled does not wait the hold out');
  assert.deepEqual(keys.all(), namesOf(running));
  const failed = status('failed');
  await index.changed(running, failed);
  await index.settled();
  assert.deepEqual(keys.all(), namesOf(failed), 'the running names are gone, the failed ones are there');
  assert.deepEqual([keys.puts, keys.deletes], [4, 2]);
});

test('without background the move is made before changed returns', async () => {
  const keys = new CountingKeys();
  const index = new JobIndex(keys);
  await index.changed(undefined, status('running'));
  assert.deepEqual(keys.all(), namesOf(status('running')));
});
