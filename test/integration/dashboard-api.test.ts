import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { z } from 'zod';
import { JobActionResult, JobDetail, JobsPage, QueuesResponse, RedriveResult } from '../../src/contract/dashboard-api.js';
import { jobIndexKeys, jobIndexPrefix, jobIndexScope, jobRequestKey, statusKey } from '../../src/contract/job-keys.js';
import type { Worker } from '../../src/daemon/worker.js';
import type { Dashboard } from '../../src/dashboard/server.js';
import { JobIndex } from '../../src/pipeline/job-index.js';
import { JobStatusStore } from '../../src/pipeline/job-status.js';
import { ObjectKeys } from '../../src/storage/object-keys.js';
import { dashboardToken, http, listen, startTestDashboard, submitJob } from '../helpers/dashboard.js';
import { eventually, finalStatus, jobStatus, startStack, startTestWorker, type TestStack } from '../helpers/pipeline.js';

const schema = { fields: [{ name: 'id', type: 'integer' }, { name: 'name', type: 'string' }] };
const csvOptions = { csv: { schema, maxErrorRate: 0.9 } };
const auth = { Authorization: `Bearer ${dashboardToken}` };

let stack: TestStack;
let worker: Worker;
let dash: Dashboard;
let readOnly: Dashboard;

before(async () => {
  stack = await startStack();
  worker = await startTestWorker(stack);
  [dash, readOnly] = await Promise.all([startTestDashboard(stack), startTestDashboard(stack, { token: undefined })]);
});
after(async () => {
  await Promise.all([dash?.close(), readOnly?.close()]);
  await worker?.stop();
  await stack?.stop();
});

const get = (path: string, headers: Record<string, string> = {}) => http(dash.url, 'GET', path, headers);
const post = (path: string, headers: Record<string, string> = {}, on: Dashboard = dash) => http(on.url, 'POST', path, headers);
const page = async (query: string) => {
  const res = await get(`/api/jobs${query}`);
  assert.equal(res.status, 200, res.text);
  return JobsPage.parse(res.json());
};
const indexNames = async () =>
  ((await stack.clients.s3.send(new ListObjectsV2Command({ Bucket: stack.emulator.bucket, Prefix: jobIndexPrefix }))).Contents ?? []).map((c) => c.Key ?? '');

describe('the page', () => {
  test('GET / is the page: its own scripts only, a CSP that allows nothing else, no token, no cookie', async () => {
    const res = await get('/');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    const csp = String(res.headers['content-security-policy']);
    for (const directive of ["default-src 'self'", "script-src 'self'", "media-src 'self' blob:", "object-src 'none'", "frame-ancestors 'none'"]) assert.ok(csp.includes(directive), csp);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.doesNotMatch(res.text, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.ok(!res.text.includes(dashboardToken), 'the token is not in the page');
    assert.equal(res.headers['set-cookie'], undefined);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    for (const src of [...res.text.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!)) {
      const file = await get(src);
      assert.equal(file.status, 200, src);
    }
  });

  test('the front-end libraries come from the installed packages, and nothing else is served', async () => {
    for (const [path, size] of [['/vendor/konva.js', 100_000], ['/vendor/waveform-data.js', 10_000], ['/vendor/peaks.js', 50_000], ['/vendor/hls.mjs', 300_000]] as const) {
      const res = await get(path);
      assert.equal(res.status, 200, path);
      assert.match(String(res.headers['content-type']), /^text\/javascript/, path);
      assert.ok(res.body.length > size, `${path}: ${res.body.length} bytes`);
      const again = await get(path, { 'If-None-Match': String(res.headers.etag) });
      assert.equal(again.status, 304, `${path} revalidates`);
    }
    for (const path of ['/vendor/nope.js', '/assets/../package.json', '/assets/%2e%2e%2fpackage.json', '/package.json', '/web/index.html']) {
      assert.equal((await get(path)).status, 404, path);
    }
  });

  test('a request whose Host is not a loopback name is refused (DNS rebinding); a wrong method says which are allowed', async () => {
    const rebound = await get('/api/jobs', { Host: 'attacker.example:8081' });
    assert.equal(rebound.status, 421);
    const wrong = await http(dash.url, 'DELETE', '/api/jobs');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, 'GET, HEAD');
    assert.equal((await post('/api/queues')).status, 405);
    assert.equal((await get('/api/jobs/x/retry')).status, 405);
    const unknown = await get('/api/nothing');
    assert.equal(unknown.status, 404);
    assert.match(unknown.json<{ error: string }>().error, /no such API route/);
  });
});

describe('jobs', () => {
  const ids = { good: 'dash-good', rejects: 'dash-rejects', empty: 'dash-empty' };
  before(async () => {
    // One at a time: their creation order is the list's order.
    await submitJob(stack, { jobId: ids.good, name: 'good.csv', body: 'id,name\n1,a\n2,b\n', kind: 'csv' });
    await finalStatus(stack.store, ids.good);
    await submitJob(stack, { jobId: ids.rejects, name: 'With-Rejects.csv', body: 'id,name\n1,a\nx,b\n3,c\n', kind: 'csv', extra: csvOptions });
    await finalStatus(stack.store, ids.rejects);
    await submitJob(stack, { jobId: ids.empty, name: 'empty.csv', body: '', extra: csvOptions });
    await finalStatus(stack.store, ids.empty);
  });

  test('the list has every job newest first with its state, kind and input, as status.json says', async () => {
    const { jobs } = await page('');
    const mine = jobs.filter((j) => Object.values(ids).includes(j.jobId));
    assert.deepEqual(mine.map((j) => j.jobId), [ids.empty, ids.rejects, ids.good]);
    for (const job of mine) {
      const status = await jobStatus(stack.store, job.jobId);
      assert.equal(job.state, status?.state, job.jobId);
      assert.equal(job.kind, status?.kind, job.jobId);
      assert.deepEqual(job.input, status?.input);
      assert.equal(job.createdAt, status?.createdAt);
    }
    assert.equal(mine[0]?.state, 'failed');
    assert.equal(mine[0]?.kind, undefined, 'failed before its kind was known');
    assert.equal(mine[1]?.state, 'succeeded');
    const times = jobs.map((j) => Date.parse(j.createdAt));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
  });

  test('filters: state, kind, and q over jobId or input key (any case); empty parameters are no filter', async () => {
    const failed = await page('?state=failed');
    assert.ok(failed.jobs.some((j) => j.jobId === ids.empty) && failed.jobs.every((j) => j.state === 'failed'));
    const csv = await page('?kind=csv');
    assert.ok(csv.jobs.some((j) => j.jobId === ids.good) && csv.jobs.every((j) => j.kind === 'csv'));
    assert.ok(!csv.jobs.some((j) => j.jobId === ids.empty), 'a job of unknown kind matches no kind');
    assert.deepEqual((await page('?q=DASH-GOOD')).jobs.map((j) => j.jobId), [ids.good]);
    assert.deepEqual((await page('?q=with-rejects')).jobs.map((j) => j.jobId), [ids.rejects]);
    assert.deepEqual((await page('?state=succeeded&kind=csv&q=rejects')).jobs.map((j) => j.jobId), [ids.rejects]);
    assert.deepEqual(await page('?q=nothing-has-this'), { jobs: [], nextCursor: null });
    assert.deepEqual((await page('?state=&kind=&q=&cursor=')).jobs.map((j) => j.jobId), (await page('')).jobs.map((j) => j.jobId));
    for (const bad of ['?state=done', '?kind=pdf', '?limit=0', '?limit=201', '?limit=x', '?cursor=%%%', '?cursor=bm90LWEtY3Vyc29y']) {
      const res = await get(`/api/jobs${bad}`);
      assert.equal(res.status, 400, `${bad}: ${res.text}`);
      assert.ok(res.json<{ error: string }>().error.length > 0);
    }
  });

  test('pages: a cursor continues exactly where a page ended, in every filter, and is refused for another filter', async () => {
    const base = Date.parse('2026-01-01T00:00:00.000Z');
    for (let i = 0; i < 7; i++) {
      const statuses = new JobStatusStore(stack.store, { index: JobIndex.forStore(stack.store), now: () => new Date(base + i * 1000) });
      const job = { jobId: `paged-${i}`, input: { bucket: stack.emulator.bucket, key: `uploads/paged/${i}.csv` }, kind: 'csv' as const };
      await statuses.queued(job);
      if (i % 2 === 0) await statuses.stageFailed(job, 'ingestion', 1, { code: 'INPUT_EMPTY', message: 'empty' });
    }
    const walk = async (query: string, limit: number) => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await page(`?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        assert.ok(res.jobs.length <= limit);
        seen.push(...res.jobs.map((j) => j.jobId));
        cursor = res.nextCursor;
        pages++;
      } while (cursor && pages < 50);
      return seen;
    };
    assert.deepEqual(await walk('q=paged-', 2), ['paged-6', 'paged-5', 'paged-4', 'paged-3', 'paged-2', 'paged-1', 'paged-0']);
    assert.deepEqual(await walk('q=paged-', 7), ['paged-6', 'paged-5', 'paged-4', 'paged-3', 'paged-2', 'paged-1', 'paged-0']);
    assert.deepEqual(await walk('state=failed&q=paged-', 3), ['paged-6', 'paged-4', 'paged-2', 'paged-0']);
    const everything = (await page('?limit=200')).jobs.map((j) => j.jobId);
    for (const limit of [1, 3, 4]) assert.deepEqual(await walk('', limit), everything, `limit ${limit}`);
    const exact = await page(`?q=paged-&limit=7`);
    assert.equal(exact.nextCursor, null, 'a page that ends with the last job has no cursor');
    const failedPage = await page('?state=failed&limit=1');
    assert.ok(failedPage.nextCursor);
    const crossed = await get(`/api/jobs?limit=1&cursor=${failedPage.nextCursor}`);
    assert.equal(crossed.status, 400, 'a cursor belongs to its filter');
  });

  test('the index heals: a job listed twice, an entry whose final state was lost, an entry without a job', async () => {
    const s3 = stack.clients.s3;
    const bucket = stack.emulator.bucket;
    const put = (Key: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: new Uint8Array(0) }));
    const twice = (await jobStatus(stack.store, 'paged-3'))!;
    // A crash between writing a job's new entry and deleting its old one: both are there.
    const [staleAll] = jobIndexKeys({ jobId: twice.jobId, state: 'running', kind: 'csv', input: twice.input, createdAt: twice.createdAt! });
    await put(staleAll!);
    // A lost index update of a final write: the index still says running.
    const lost = (await jobStatus(stack.store, 'paged-4'))!;
    for (const k of jobIndexKeys({ jobId: lost.jobId, state: lost.state, kind: 'csv', input: lost.input, createdAt: lost.createdAt! })) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: k }));
    const lostRunning = jobIndexKeys({ jobId: lost.jobId, state: 'running', kind: 'csv', input: lost.input, createdAt: lost.createdAt! });
    for (const k of lostRunning) await put(k);
    // An entry whose job has no status.json.
    const [orphan] = jobIndexKeys({ jobId: 'no-such-job', state: 'running', input: { bucket, key: 'uploads/x.csv' }, createdAt: '2026-01-01T00:00:03.500Z' });
    await put(orphan!);

    const listed = (await page('?q=paged-&limit=50')).jobs;
    assert.deepEqual(listed.filter((j) => j.jobId === 'paged-3').map((j) => j.state), ['queued'], 'listed once, as status.json says');
    assert.equal(listed.find((j) => j.jobId === 'paged-4')?.state, 'failed');
    assert.ok(!(await page('?state=running&q=paged-')).jobs.some((j) => j.jobId === 'paged-4'), 'not listed as running');
    assert.ok(!(await page('?limit=200')).jobs.some((j) => j.jobId === 'no-such-job'));
    await eventually(async () => {
      const names = await indexNames();
      const healed = !names.includes(staleAll!) && !names.includes(orphan!) && !lostRunning.some((k) => names.includes(k));
      const restored = jobIndexKeys({ jobId: lost.jobId, state: 'failed', kind: 'csv', input: lost.input, createdAt: lost.createdAt! }).every((k) => names.includes(k));
      return healed && restored ? true : undefined;
    }, 'the listing to repair the index');
  });

  test('an index write that fails is logged and the status write stands', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    class FailingKeys extends ObjectKeys {
      override async put(): Promise<void> {
        throw new Error('S3 refused the index write');
      }
    }
    const statuses = new JobStatusStore(stack.store, { index: new JobIndex(new FailingKeys(stack.clients.s3, stack.emulator.bucket), { logger }), logger });
    const job = { jobId: 'index-write-fails', input: { bucket: stack.emulator.bucket, key: 'uploads/x/a.csv' } };
    const written = await statuses.queued(job);
    assert.equal(written.changed, true);
    assert.equal((await jobStatus(stack.store, job.jobId))?.state, 'queued');
    assert.ok(lines.some((l) => /could not update the job index/.test(l) && /S3 refused the index write/.test(l)), lines.join('\n'));
    // The listing finds it anyway once an entry exists; without one it is a `rebuild` away.
    const rebuilt = await JobIndex.forStore(stack.store).rebuild((id) => new JobStatusStore(stack.store).get(id));
    assert.ok(rebuilt >= 1);
    assert.ok((await page('?q=index-write-fails')).jobs.some((j) => j.jobId === job.jobId));
  });

  test('GET /api/jobs/{jobId}: the status document with a link per output; unknown and malformed ids are 404', async () => {
    const res = await get(`/api/jobs/${ids.rejects}`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const detail = JobDetail.parse(res.json());
    assert.equal(detail.state, 'succeeded');
    assert.deepEqual(Object.keys(detail.links).sort(), Object.keys(detail.outputs).sort());
    for (const name of ['validated.csv', 'rejects.jsonl', 'validation.json', 'analysis.json']) assert.equal(detail.links[name], `/api/jobs/${ids.rejects}/outputs/${name}`);
    for (const path of ['/api/jobs/no-such-job', '/api/jobs/a.b', '/api/jobs/%3Cimg%3E', `/api/jobs/${'x'.repeat(65)}`]) {
      const missing = await get(path);
      assert.equal(missing.status, 404, path);
      assert.ok(missing.json<{ error: string }>().error);
    }
  });

  test('outputs: the stored bytes with their type, byte ranges (206, 416), and nothing outside the job', async () => {
    const key = `jobs/${ids.rejects}/rejects.jsonl`;
    const stored = Buffer.from(await (await stack.clients.s3.send(new GetObjectCommand({ Bucket: stack.emulator.bucket, Key: key }))).Body!.transformToByteArray());
    const link = `/api/jobs/${ids.rejects}/outputs/rejects.jsonl`;
    const whole = await get(link);
    assert.equal(whole.status, 200);
    assert.deepEqual(whole.body, stored);
    assert.equal(whole.headers['content-type'], 'application/x-ndjson');
    assert.equal(whole.headers['accept-ranges'], 'bytes');
    assert.equal(Number(whole.headers['content-length']), stored.length);
    assert.match(String(whole.headers['content-security-policy']), /sandbox/);
    const size = stored.length;
    const cases: [string, number, Buffer, string][] = [
      ['bytes=0-4', 206, stored.subarray(0, 5), `bytes 0-4/${size}`],
      ['bytes=3-', 206, stored.subarray(3), `bytes 3-${size - 1}/${size}`],
      ['bytes=-6', 206, stored.subarray(size - 6), `bytes ${size - 6}-${size - 1}/${size}`],
      [`bytes=2-${size + 100}`, 206, stored.subarray(2), `bytes 2-${size - 1}/${size}`],
    ];
    for (const [range, status, body, contentRange] of cases) {
      const res = await get(link, { Range: range });
      assert.equal(res.status, status, range);
      assert.deepEqual(res.body, body, range);
      assert.equal(res.headers['content-range'], contentRange, range);
      assert.equal(Number(res.headers['content-length']), body.length, range);
    }
    for (const range of [`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`, 'bytes=-0']) {
      const res = await get(link, { Range: range });
      assert.equal(res.status, 416, range);
      assert.equal(res.headers['content-range'], `bytes */${size}`, range);
    }
    for (const range of ['bytes=5-2', 'bytes=0-1,4-5', 'lines=1-2']) assert.deepEqual((await get(link, { Range: range })).body, stored, `${range} is ignored`);
    const head = await http(dash.url, 'HEAD', link);
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers['content-length']), size);
    assert.equal(head.body.length, 0);
    const csv = await get(`/api/jobs/${ids.rejects}/outputs/validated.csv`);
    assert.match(String(csv.headers['content-type']), /^text\/csv/);
    assert.equal((await get(`/api/jobs/${ids.rejects}/outputs/nothing.json`)).status, 404);
    for (const path of [
      `/api/jobs/${ids.rejects}/outputs/../${ids.good}/validated.csv`,
      `/api/jobs/${ids.rejects}/outputs/%2e%2e/${ids.good}/validated.csv`,
      `/api/jobs/${ids.rejects}/outputs/..%2F${ids.good}%2Fvalidated.csv`,
      `/api/jobs/${ids.rejects}/outputs/`,
      `/api/jobs/${ids.rejects}/outputs//x`,
      `/api/jobs/${ids.rejects}/outputs/a%5C..%5Cb`,
    ]) {
      const res = await get(path);
      assert.equal(res.status, 400, `${path}: ${res.text}`);
    }
    // The kept request lies outside every job's folder: no output path reaches it.
    assert.equal((await get(`/api/jobs/.stageline/outputs/requests/${ids.rejects}.json`)).status, 404);
    assert.ok(await stack.store.getJson(jobRequestKey(ids.rejects), JobDetail.pick({ jobId: true })));
  });
});

describe('queues', () => {
  let quiet: TestStack;
  let board: Dashboard;
  before(async () => {
    quiet = await startStack();
    board = await startTestDashboard(quiet);
  });
  after(async () => {
    await board?.close();
    await quiet?.stop();
  });

  test('per stage: visible, in flight, delayed, DLQ depth and the age of the oldest dead letter, as numbers', async () => {
    const { sqs } = quiet.clients;
    const q = quiet.emulator.queues;
    const empty = QueuesResponse.parse((await http(board.url, 'GET', '/api/queues')).json());
    for (const stage of ['ingestion', 'validation', 'analysis'] as const) assert.deepEqual(empty[stage], { visible: 0, inFlight: 0, delayed: 0, dlqDepth: 0, oldestAgeSeconds: 0 });
    await sqs.send(new SendMessageCommand({ QueueUrl: q.validation.url, MessageBody: '{}' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: q.validation.url, MessageBody: '{}' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: q.validation.url, MessageBody: '{}' }));
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.validation.url, MaxNumberOfMessages: 1, VisibilityTimeout: 120 }));
    await sqs.send(new SendMessageCommand({ QueueUrl: q.ingestion.url, MessageBody: '{}', DelaySeconds: 900 }));
    await sqs.send(new SendMessageCommand({ QueueUrl: q.analysis.dlqUrl, MessageBody: 'dead' }));
    await new Promise((r) => setTimeout(r, 2100));
    await sqs.send(new SendMessageCommand({ QueueUrl: q.analysis.dlqUrl, MessageBody: 'dead too' }));
    const res = await http(board.url, 'GET', '/api/queues');
    assert.equal(res.status, 200);
    const queues = QueuesResponse.parse(res.json());
    assert.deepEqual({ ...queues.validation }, { visible: 2, inFlight: 1, delayed: 0, dlqDepth: 0, oldestAgeSeconds: 0 });
    assert.deepEqual({ ...queues.ingestion }, { visible: 0, inFlight: 0, delayed: 1, dlqDepth: 0, oldestAgeSeconds: 0 });
    assert.equal(queues.analysis.dlqDepth, 2);
    assert.ok((queues.analysis.oldestAgeSeconds ?? 0) >= 2 && (queues.analysis.oldestAgeSeconds ?? 99) < 30, `oldest ${queues.analysis.oldestAgeSeconds}`);
    // The peek left both dead letters where they were.
    const again = QueuesResponse.parse((await http(board.url, 'GET', '/api/queues')).json());
    assert.equal(again.analysis.dlqDepth, 2);
  });

  test('a queue that cannot be read is reported on its stage; the others still answer', async () => {
    const broken = await startTestDashboard(quiet, { queueUrls: { ...Object.fromEntries(Object.entries(quiet.emulator.queues).map(([s, q]) => [s, q.url])), analysis: `${quiet.emulator.endpoint}/000000000000/no-such-queue` } as Record<'ingestion' | 'validation' | 'analysis', string> });
    try {
      const queues = QueuesResponse.parse((await http(broken.url, 'GET', '/api/queues')).json());
      assert.match(queues.analysis.error ?? '', /could not read the analysis queue/);
      assert.equal(queues.analysis.dlqDepth, null);
      assert.equal(queues.validation.error, undefined);
    } finally {
      await broken.close();
    }
  });
});

describe('events', () => {
  test('GET /api/events streams queue counts, job changes and heartbeats, without touching the events queue, and forgets a closed client', async () => {
    const stream = listen(dash.url);
    assert.equal(await stream.opened, 200);
    await eventually(async () => (stream.events.some((e) => e.event === 'queues') ? true : undefined), 'a queues event', 5000);
    QueuesResponse.parse(JSON.parse(stream.events.find((e) => e.event === 'queues')!.data));
    await new Promise((r) => setTimeout(r, 700)); // the first look at the jobs only learns what is there
    await submitJob(stack, { jobId: 'dash-live', name: 'live.csv', body: 'id,name\n1,a\n', kind: 'csv' });
    const states = () => stream.events.filter((e) => e.event === 'job').map((e) => JSON.parse(e.data) as { jobId: string; state: string }).filter((j) => j.jobId === 'dash-live').map((j) => j.state);
    await eventually(async () => (states().includes('succeeded') ? true : undefined), 'the job to arrive as succeeded', 20_000);
    await eventually(async () => (stream.comments.some((c) => c.startsWith(': ping')) ? true : undefined), 'a heartbeat', 5000);
    assert.ok(stream.raw().startsWith('retry: '));
    const events = await stack.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.emulator.eventsQueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
    assert.ok((events.Messages ?? []).length > 0, 'the job events are still in the events queue for their consumers');
    assert.equal(dash.eventListeners(), 1);
    stream.close();
    await eventually(async () => (dash.eventListeners() === 0 ? true : undefined), 'the closed client to be forgotten', 5000);
  });
});

describe('actions', () => {
  test('without DASHBOARD_TOKEN configured every action answers 403 and nothing changes', async () => {
    await submitJob(stack, { jobId: 'ro-empty', name: 'empty.csv', body: '' });
    const before = await finalStatus(stack.store, 'ro-empty');
    for (const path of ['/api/jobs/ro-empty/retry', '/api/jobs/ro-empty/cancel', '/api/dlq/validation/redrive']) {
      for (const headers of [{}, auth]) {
        const res = await post(path, headers, readOnly);
        assert.equal(res.status, 403, `${path}: ${res.text}`);
        assert.match(res.json<{ error: string }>().error, /DASHBOARD_TOKEN/);
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await jobStatus(stack.store, 'ro-empty'), before);
  });

  test('a missing token is 401, a wrong one 403, and nothing changes', async () => {
    const before = await jobStatus(stack.store, 'ro-empty');
    const cases: [Record<string, string>, number][] = [
      [{}, 401],
      [{ Authorization: 'Basic dXNlcjpwYXNz' }, 401],
      [{ Authorization: 'Bearer' }, 401],
      [{ Authorization: 'Bearer wrong' }, 403],
      [{ Authorization: `Bearer ${dashboardToken}x` }, 403],
      [{ Authorization: `Bearer ${dashboardToken.slice(0, -1)}` }, 403],
    ];
    for (const [headers, status] of cases) {
      const res = await post('/api/jobs/ro-empty/retry', headers);
      assert.equal(res.status, status, JSON.stringify(headers));
      if (status === 401) assert.match(String(res.headers['www-authenticate']), /^Bearer/);
      assert.equal((await post('/api/dlq/validation/redrive', headers)).status, status);
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await jobStatus(stack.store, 'ro-empty'), before);
  });

  test('retry runs a failed job again with its options; other states are 409, unknown jobs 404', async () => {
    const key = await submitJob(stack, { jobId: 'retry-me', name: 'later.csv', body: '', kind: 'csv', extra: csvOptions });
    const failed = await finalStatus(stack.store, 'retry-me');
    assert.equal(failed.error?.code, 'INPUT_EMPTY');
    // The person fixes the cause (uploads the file), then retries.
    await stack.clients.s3.send(new PutObjectCommand({ Bucket: stack.emulator.bucket, Key: key, Body: 'id,name\n1,a\nx,b\n' }));
    const res = await post('/api/jobs/retry-me/retry', auth);
    assert.equal(res.status, 200, res.text);
    const result = JobActionResult.parse(res.json());
    assert.equal(result.status.state, 'queued');
    assert.equal(result.optionsFrom, 'request');
    assert.equal(result.status.error, undefined);
    const done = await eventually(async () => {
      const s = await jobStatus(stack.store, 'retry-me');
      return s?.state === 'succeeded' ? s : undefined;
    }, 'the retried job to succeed');
    assert.equal(done.createdAt, failed.createdAt, 'the same job');
    const validation = await stack.store.getJson(`jobs/retry-me/validation.json`, z.object({ schemaSource: z.string(), maxErrorRate: z.number(), rowsRejected: z.number() }));
    assert.deepEqual(validation, { schemaSource: 'inline', maxErrorRate: 0.9, rowsRejected: 1 }, 'its schema and error rate came back with it');
    assert.equal((await page('?q=retry-me')).jobs[0]?.state, 'succeeded');

    const again = await post('/api/jobs/retry-me/retry', auth);
    assert.equal(again.status, 409);
    assert.match(again.json<{ error: string }>().error, /succeeded: only a failed job can be retried/);
    assert.equal((await post('/api/jobs/no-such-job/retry', auth)).status, 404);
    assert.equal((await post('/api/jobs/a.b/retry', auth)).status, 404);
  });

  test('a retry that cannot be sent fails the job again with RETRY_NOT_SENT (503), never leaves it queued', async () => {
    await submitJob(stack, { jobId: 'retry-unsent', name: 'empty.csv', body: '' });
    await finalStatus(stack.store, 'retry-unsent');
    const queueUrls = Object.fromEntries(Object.entries(stack.emulator.queues).map(([s, q]) => [s, q.url])) as Record<'ingestion' | 'validation' | 'analysis', string>;
    const broken = await startTestDashboard(stack, { queueUrls: { ...queueUrls, ingestion: `${stack.emulator.endpoint}/000000000000/no-such-queue` } });
    try {
      const res = await post('/api/jobs/retry-unsent/retry', auth, broken);
      assert.equal(res.status, 503, res.text);
      assert.match(res.json<{ error: string }>().error, /could not be sent/);
      const status = await jobStatus(stack.store, 'retry-unsent');
      assert.equal(status?.state, 'failed');
      assert.equal(status?.error?.code, 'RETRY_NOT_SENT');
    } finally {
      await broken.close();
    }
  });

  test('cancel ends a scheduled job; anything else is 409', async () => {
    await submitJob(stack, { jobId: 'cancel-me', name: 'later.csv', body: 'id\n1\n', kind: 'csv', extra: { delaySeconds: 3600 } });
    await eventually(async () => ((await jobStatus(stack.store, 'cancel-me'))?.state === 'scheduled' ? true : undefined), 'the job to be scheduled');
    const res = await post('/api/jobs/cancel-me/cancel', auth);
    assert.equal(res.status, 200, res.text);
    assert.equal(JobActionResult.parse(res.json()).status.state, 'cancelled');
    assert.equal((await jobStatus(stack.store, 'cancel-me'))?.state, 'cancelled');
    await eventually(async () => ((await page('?state=cancelled&q=cancel-me')).jobs.length === 1 ? true : undefined), 'the list to say cancelled');
    const again = await post('/api/jobs/cancel-me/cancel', auth);
    assert.equal(again.status, 409);
    assert.match(again.json<{ error: string }>().error, /cancelled; only a scheduled job can be cancelled/);
    assert.equal((await post('/api/jobs/dash-good/cancel', auth)).status, 409);
    assert.equal((await post('/api/jobs/no-such-job/cancel', auth)).status, 404);
  });

  test('redrive moves a stage\'s dead letters back: the dead-lettered job runs again', async () => {
    const key = 'uploads/redriven/data.csv';
    await stack.clients.s3.send(new PutObjectCommand({ Bucket: stack.emulator.bucket, Key: key, Body: 'id,name\n1,a\n' }));
    await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.emulator.queues.ingestion.dlqUrl, MessageBody: JSON.stringify({ jobId: 'redriven', input: { key }, kind: 'csv' }) }));
    await eventually(async () => ((await jobStatus(stack.store, 'redriven'))?.error?.code === 'DEAD_LETTERED' ? true : undefined), 'the watcher to record the dead letter', 30_000);
    assert.equal((await post('/api/dlq/nowhere/redrive', auth)).status, 404);
    const res = await post('/api/dlq/ingestion/redrive', auth);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(RedriveResult.parse(res.json()), { stage: 'ingestion', moved: 1 });
    await eventually(async () => ((await jobStatus(stack.store, 'redriven'))?.state === 'succeeded' ? true : undefined), 'the redriven job to succeed', 30_000);
    const queues = QueuesResponse.parse((await get('/api/queues')).json());
    assert.equal(queues.ingestion.dlqDepth, 0);
  });
});

test('status.json keeps the createdAt of its first write; the index names it', async () => {
  const status = (await jobStatus(stack.store, 'dash-good'))!;
  assert.ok(status.createdAt && Date.parse(status.createdAt) <= Date.parse(status.updatedAt));
  const names = await indexNames();
  for (const k of jobIndexKeys({ jobId: status.jobId, state: status.state, kind: status.kind, input: status.input, createdAt: status.createdAt })) assert.ok(names.includes(k), k);
  assert.ok(names.some((n) => n.startsWith(jobIndexScope('succeeded'))));
  assert.ok(await stack.store.getJson(statusKey('dash-good'), JobDetail.pick({ jobId: true })));
});
