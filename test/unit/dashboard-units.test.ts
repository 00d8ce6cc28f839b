import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { jobIndexAfter, jobIndexKey, jobIndexKeys, jobIndexScope, parseJobIndexKey, type JobIndexEntry } from '../../src/contract/job-keys.js';
import { authorize } from '../../src/dashboard/auth.js';
import { outputContentType, outputKey, outputLink, parseRange } from '../../src/dashboard/outputs.js';
import { createdAtOf, indexEntryOf } from '../../src/pipeline/job-index.js';

const entry = (over: Partial<JobIndexEntry> = {}): JobIndexEntry => ({
  jobId: 'job-1',
  state: 'running',
  kind: 'csv',
  input: { bucket: 'stageline', key: 'uploads/job-1/orders.csv' },
  createdAt: '2026-12-03T10:00:00.000Z',
  ...over,
});

describe('job index names', () => {
  test('an entry survives its name: state, kind, bucket, key and creation time, in both scopes', () => {
    const e = entry({ input: { bucket: 'b', key: 'uploads/a b/../%2F/<img src=x onerror=alert(1)>.csv' } });
    const [all, byState] = jobIndexKeys(e);
    assert.ok(all?.startsWith('jobs/.stageline/index/all/'));
    assert.ok(byState?.startsWith('jobs/.stageline/index/by-state/running/'));
    for (const [scope, name] of [[jobIndexScope(), all!], [jobIndexScope('running'), byState!]] as const) {
      const parsed = parseJobIndexKey(scope, name);
      assert.deepEqual(parsed, { ...e, keyComplete: true });
      // No segment of a name is `.` or `..`, and the input key adds no `/`: some clients normalise paths.
      assert.ok(!name.split('/').some((s) => s === '.' || s === '..'), name);
      assert.equal(name.split('/').length, scope.split('/').length + 5);
    }
    assert.equal(parseJobIndexKey(jobIndexScope(), 'jobs/.stageline/index/all/garbage'), undefined);
    const noKind = parseJobIndexKey(jobIndexScope(), jobIndexKey(jobIndexScope(), entry({ kind: undefined })));
    assert.ok(noKind && noKind.kind === undefined && noKind.jobId === 'job-1' && noKind.keyComplete, 'a job whose kind is not known yet');
  });

  test('any input key round-trips or, too long for S3, is cut on a character boundary and marked incomplete', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 1100 }), fc.constantFrom('audio', 'csv', undefined), (key, kind) => {
        const e = entry({ kind, input: { bucket: 'stageline', key } });
        for (const name of jobIndexKeys(e)) {
          assert.ok(Buffer.byteLength(name) <= 1024, `${Buffer.byteLength(name)} bytes`);
          const scope = name.includes('/all/') ? jobIndexScope() : jobIndexScope(e.state);
          const parsed = parseJobIndexKey(scope, name);
          assert.ok(parsed, name);
          if (parsed.keyComplete) assert.equal(parsed.input.key, key);
          else assert.ok(key.startsWith(parsed.input.key) && parsed.input.key.length < key.length);
          assert.equal(parsed.kind, kind);
        }
      }),
      { numRuns: 300, seed: 17 },
    );
  });

  test('names sort newest first, and the place after a job skips all its entries and no other job', () => {
    const scope = jobIndexScope();
    const t = '2026-12-03T10:00:00.000Z';
    const names = [
      jobIndexKey(scope, entry({ jobId: 'old', createdAt: '2026-12-01T00:00:00.000Z' })),
      jobIndexKey(scope, entry({ jobId: 'a', createdAt: t, state: 'running' })),
      jobIndexKey(scope, entry({ jobId: 'a', createdAt: t, state: 'succeeded' })),
      jobIndexKey(scope, entry({ jobId: 'a-b', createdAt: t })),
      jobIndexKey(scope, entry({ jobId: 'a0', createdAt: t })),
      jobIndexKey(scope, entry({ jobId: 'ab', createdAt: t })),
      jobIndexKey(scope, entry({ jobId: 'new', createdAt: '2026-12-04T00:00:00.000Z' })),
    ].sort();
    assert.deepEqual(names.map((n) => parseJobIndexKey(scope, n)?.jobId), ['new', 'a-b', 'a', 'a', 'a0', 'ab', 'old']);
    const after = jobIndexAfter(scope, { jobId: 'a', createdAt: t });
    assert.deepEqual(names.filter((n) => n > after).map((n) => parseJobIndexKey(scope, n)?.jobId), ['a0', 'ab', 'old']);
  });

  test('a document gets its entry once it has a createdAt; an older document takes its earliest time', () => {
    const status = { jobId: 'j', state: 'running' as const, input: { bucket: 'b', key: 'k' }, stages: {}, outputs: {}, updatedAt: '2026-12-03T10:00:05.000Z' };
    assert.equal(indexEntryOf(status), undefined);
    assert.deepEqual(indexEntryOf({ ...status, createdAt: 'c', kind: 'audio' }), { jobId: 'j', state: 'running', kind: 'audio', input: status.input, createdAt: 'c' });
    assert.equal(createdAtOf(undefined, 'now'), 'now');
    assert.equal(createdAtOf({ ...status, createdAt: 'c' }, 'now'), 'c');
    const started = { ...status, stages: { ingestion: { state: 'succeeded' as const, attempts: 1, startedAt: '2026-12-03T10:00:01.000Z' } } };
    assert.equal(createdAtOf(started, 'now'), '2026-12-03T10:00:01.000Z');
  });
});

describe('dashboard token', () => {
  test('no token configured: every request is refused as disabled, whatever it sends', () => {
    assert.equal(authorize('Bearer anything', undefined), 'disabled');
    assert.equal(authorize(undefined, ''), 'disabled');
  });
  test('missing, malformed, wrong and right tokens', () => {
    const token = 's3cret-token';
    assert.equal(authorize(undefined, token), 'missing');
    assert.equal(authorize('', token), 'missing');
    assert.equal(authorize('Basic czNjcmV0', token), 'missing');
    assert.equal(authorize('Bearer', token), 'missing');
    assert.equal(authorize('Bearer s3cret-tokeN', token), 'wrong');
    assert.equal(authorize('Bearer s3cret-token-and-more', token), 'wrong');
    assert.equal(authorize('Bearer s3cret', token), 'wrong');
    assert.equal(authorize('Bearer s3cret-token', token), 'ok');
    assert.equal(authorize('bearer  s3cret-token ', token), 'ok');
  });
});

describe('output downloads', () => {
  test('a name maps to a key under the job prefix; traversal, empty and control segments are refused', () => {
    assert.equal(outputKey('j1', ['audio', 'mp3-192k.mp3']), 'jobs/j1/audio/mp3-192k.mp3');
    assert.equal(outputKey('j1', ['a%20b.json']), 'jobs/j1/a b.json');
    for (const bad of [[], [''], ['..', 'j2', 'status.json'], ['.'], ['a', '..'], ['%2E%2E', 'x'], ['..%2Fj2'], ['a%2Fb'], ['a%5Cb'], ['%00'], ['%E0%A4%A'], ['a', '']]) {
      assert.equal(outputKey('j1', bad), undefined, bad.join('/'));
    }
  });
  test('links are made only for keys under the job prefix', () => {
    assert.equal(outputLink('j1', 'jobs/j1/audio/a b.mp3'), '/api/jobs/j1/outputs/audio/a%20b.mp3');
    assert.equal(outputLink('j1', 'jobs/j2/x.json'), undefined);
    assert.equal(outputLink('j1', 'jobs/j1/'), undefined);
  });
  test('ranges: one range is honoured, anything else means the whole object', () => {
    assert.deepEqual(parseRange('bytes=0-99'), { start: 0, end: 99 });
    assert.deepEqual(parseRange('bytes=100-'), { start: 100 });
    assert.deepEqual(parseRange('bytes=-500'), { suffix: 500 });
    assert.deepEqual(parseRange('bytes=-0'), { suffix: 0 });
    for (const ignored of [undefined, '', 'bytes=', 'bytes=-', 'bytes=5-2', 'bytes=0-1,5-6', 'items=0-1', 'bytes=a-b']) assert.equal(parseRange(ignored), undefined, String(ignored));
  });
  test('content types: the stored one, else by extension; never one a browser would run', () => {
    assert.equal(outputContentType('jobs/j/audio/a.mp3', 'audio/mpeg'), 'audio/mpeg');
    assert.equal(outputContentType('jobs/j/video/master.m3u8', undefined), 'application/vnd.apple.mpegurl');
    assert.equal(outputContentType('jobs/j/x.json', 'application/octet-stream'), 'application/json');
    assert.equal(outputContentType('jobs/j/x.html', 'text/html'), 'application/octet-stream');
    assert.equal(outputContentType('jobs/j/x.svg', 'image/svg+xml; charset=utf-8'), 'application/octet-stream');
    assert.equal(outputContentType('jobs/j/x.unknown', undefined), 'application/octet-stream');
  });
});
