import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobsQuery } from '../../src/contract/dashboard-api.js';
import { jobIndexKey, jobIndexKeys, jobIndexScope, type JobIndexEntry } from '../../src/contract/job-keys.js';
import type { JobStatus } from '../../src/contract/status-document.js';
import { CursorError, JobList } from '../../src/dashboard/job-list.js';
import { JobIndex } from '../../src/pipeline/job-index.js';
import { MemoryKeys } from '../helpers/memory-keys.js';

/**
 * The job list's paging over an index listed in S3's byte order (the emulator's LIST sorts with
 * localeCompare, which differs within one millisecond): every job once, in order, across every page
 * boundary, LIST boundary, filter and stale duplicate.
 */
const kinds = ['audio', 'csv', 'video'] as const;
const finals = ['succeeded', 'failed', 'cancelled'] as const;
const same = '2026-12-03T10:00:00.000Z';
const jobIds = ['a', 'a-b', 'a0', 'ab', 'A', 'Z_1', 'z', ...Array.from({ length: 23 }, (_, i) => `job-${i}`)];

function fixture() {
  const keys = new MemoryKeys();
  const statuses = new Map<string, JobStatus>();
  const entries: JobIndexEntry[] = jobIds.map((jobId, i) => ({
    jobId,
    state: finals[i % 3]!,
    kind: kinds[(i * 7) % 3],
    input: { bucket: 'b', key: `uploads/${jobId}/file-${i}.bin` },
    // The first seven share one millisecond: their order is their names'.
    createdAt: i < 7 ? same : new Date(Date.parse(same) - i * 1000).toISOString(),
  }));
  for (const e of entries) {
    keys.add(...jobIndexKeys(e));
    statuses.set(e.jobId, { jobId: e.jobId, kind: e.kind as JobStatus['kind'], state: e.state as JobStatus['state'], input: e.input, stages: {}, outputs: {}, updatedAt: e.createdAt, createdAt: e.createdAt });
  }
  const gets: string[] = [];
  const list = (maxListsPerPage?: number) =>
    new JobList({ index: new JobIndex(keys), statuses: { get: async (id: string) => (gets.push(id), statuses.get(id)) }, ...(maxListsPerPage ? { maxListsPerPage } : {}) });
  // The order S3 gives: by name in byte order, one row per job.
  const expected = (filter: (e: JobIndexEntry) => boolean) =>
    entries.filter(filter).sort((x, y) => (jobIndexKey(jobIndexScope(), x) < jobIndexKey(jobIndexScope(), y) ? -1 : 1)).map((e) => e.jobId);
  return { keys, statuses, entries, gets, list, expected };
}

async function walk(list: JobList, query: JobsQuery): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await list.page({ ...query, ...(cursor ? { cursor } : {}) });
    assert.ok(page.jobs.length <= (query.limit ?? 50));
    ids.push(...page.jobs.map((j) => j.jobId));
    cursor = page.nextCursor ?? undefined;
    pages++;
    assert.ok(pages < 200, 'the walk ends');
  } while (cursor);
  return { ids, pages };
}

test('every limit pages through every job once, newest first, a shared millisecond in byte order', async () => {
  const f = fixture();
  const all = f.expected(() => true);
  assert.deepEqual(all.slice(0, 7), ['A', 'Z_1', 'a-b', 'a', 'a0', 'ab', 'z']);
  for (const limit of [1, 2, 3, 4, 5, 7, 10, 29, 30, 31, 50]) {
    const { ids, pages } = await walk(f.list(), { limit });
    assert.deepEqual(ids, all, `limit ${limit}`);
    assert.equal(pages, Math.max(1, Math.ceil(all.length / limit)), `limit ${limit}: no empty last page`);
  }
  assert.deepEqual(f.gets, [], 'final entries are trusted: no status.json read');
});

test('filters page the same way: state (its own prefix), kind, search, and all together', async () => {
  const f = fixture();
  const cases: [JobsQuery, (e: JobIndexEntry) => boolean][] = [
    [{ state: 'failed' }, (e) => e.state === 'failed'],
    [{ kind: 'video' }, (e) => e.kind === 'video'],
    [{ q: 'A' }, (e) => e.jobId.toLowerCase().includes('a') || e.input.key.toLowerCase().includes('a')],
    [{ q: 'file-1' }, (e) => e.input.key.includes('file-1')],
    [{ state: 'succeeded', kind: 'audio', q: 'job-' }, (e) => e.state === 'succeeded' && e.kind === 'audio' && e.jobId.startsWith('job-')],
  ];
  for (const [query, match] of cases) {
    for (const limit of [1, 2, 3, 50]) assert.deepEqual((await walk(f.list(), { ...query, limit })).ids, f.expected(match), `${JSON.stringify(query)} limit ${limit}`);
  }
  const failedFirst = await f.list().page({ state: 'failed', limit: 1 });
  await assert.rejects(f.list().page({ limit: 1, cursor: failedFirst.nextCursor! }), CursorError, 'a cursor belongs to its filter');
  await assert.rejects(f.list().page({ cursor: 'garbage' }), CursorError);
});

test('a job listed twice (a crash between writing its new entry and deleting its old one) shows once, as status.json says, on any page boundary', async () => {
  for (const twice of ['a', 'job-3', 'job-22']) {
    const f = fixture();
    const real = f.entries.find((e) => e.jobId === twice)!;
    const stale = { ...real, state: 'running' };
    f.keys.add(...jobIndexKeys(stale));
    for (const limit of [1, 2, 3, 9, 10, 11, 50]) {
      const { ids } = await walk(f.list(), { limit });
      assert.deepEqual(ids, f.expected(() => true), `${twice}, limit ${limit}`);
    }
    const row = (await walk(f.list(), { limit: 50, q: twice })).ids;
    assert.ok(row.includes(twice));
    // The listing repaired the index: only the real entries are left.
    await new Promise((r) => setImmediate(r));
    assert.ok(!f.keys.all().includes(jobIndexKey(jobIndexScope(), stale)), `${twice}: the stale entry is removed`);
    assert.ok(f.gets.includes(twice), 'the duplicate was checked against status.json');
  }
});

test('a search that matches nothing answers within its LIST budget, with a cursor, until the end', async () => {
  const f = fixture();
  const { ids, pages } = await walk(f.list(1), { q: 'no-such-thing', limit: 1 });
  assert.deepEqual(ids, []);
  assert.equal(pages, 1, 'one LIST of 1,000 names covers this index');
  const many = new MemoryKeys();
  for (let i = 0; i < 2500; i++) many.add(...jobIndexKeys({ jobId: `j${i}`, state: 'succeeded', input: { bucket: 'b', key: `k${i}` }, createdAt: new Date(Date.parse(same) - i).toISOString() }));
  const list = new JobList({ index: new JobIndex(many), statuses: { get: async () => undefined }, maxListsPerPage: 1 });
  const first = await list.page({ q: 'k2499', limit: 5 });
  assert.deepEqual(first.jobs, []);
  assert.ok(first.nextCursor, 'not at the end after one LIST');
  const found = await walk(list, { q: 'k2499', limit: 5 });
  assert.deepEqual(found.ids, ['j2499']);
  assert.equal(found.pages, 3);
});
