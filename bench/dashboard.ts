/**
 * `npm run bench:dashboard [-- --jobs=100000 --rounds=7]`
 *
 * How fast the dashboard's job list answers with 100,000 jobs in the bucket. The in-process fauxqs is
 * seeded with each job's two index entries (`jobs/.stageline/index/all/…` and `…/by-state/<state>/…`)
 * and, for the jobs not in a final state (the newest 20: in flight), their status.json, which the
 * listing reads to check them. Then, medians (min-max) of `--rounds`:
 * - the first page (50 jobs) cold: a new lister, so every non-final entry is checked (a GET each);
 * - the same warm (those checks remembered for a minute, as a running dashboard has them);
 * - filtered pages: a state (its own prefix), a kind (filtered while listing), both, and a search
 *   that matches one old job (the lister stops after 10 LISTs of 1,000 names and answers with a cursor);
 * - the first page through the HTTP API of a running dashboard;
 * - one bare LIST of 60 names from the emulator, the floor under any page: fauxqs filters and sorts
 *   the whole bucket on every LIST, which S3 does not, so the same pages are timed again over an
 *   in-memory copy of the index (a sorted array) to show what the dashboard's own code costs.
 * S3 requests per page are counted by a middleware on the client.
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { pino } from 'pino';
import { createAwsClients } from '../src/aws/clients.js';
import { startEmulator } from '../src/cli/emulator.js';
import { jobIndexKeys, jobIndexScope, statusKey, type JobIndexEntry } from '../src/contract/job-keys.js';
import type { JobsQuery } from '../src/contract/dashboard-api.js';
import type { JobStatus } from '../src/contract/status-document.js';
import { stageNames, type StageName } from '../src/contract/stages.js';
import { JobList } from '../src/dashboard/job-list.js';
import { startDashboard } from '../src/dashboard/server.js';
import { JobIndex } from '../src/pipeline/job-index.js';
import { JobStatusStore } from '../src/pipeline/job-status.js';
import { ObjectStore } from '../src/storage/object-store.js';
import { MemoryKeys } from '../test/helpers/memory-keys.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string | undefined]));
const jobs = Number(args.get('jobs') ?? 100_000);
const rounds = Number(args.get('rounds') ?? 7);
const inFlight = 20;

const emulator = await startEmulator();
for (const [k, v] of Object.entries(emulator.env)) process.env[k] = v;
const clients = createAwsClients({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: emulator.endpoint });
const counts = new Map<string, number>();
clients.s3.middlewareStack.add(
  (next, context) => (a) => {
    const name = context.commandName ?? 'unknown';
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return next(a);
  },
  { step: 'initialize', name: 'count' },
);
const store = new ObjectStore(clients.s3, emulator.bucket);
const index = JobIndex.forStore(store);
const statuses = new JobStatusStore(store);

const memory = new MemoryKeys();

// --- seed -------------------------------------------------------------------------------------------
const kinds = ['audio', 'csv', 'video'] as const;
const ext = { audio: 'wav', csv: 'csv', video: 'mp4' };
const newest = Date.parse('2026-12-03T00:00:00.000Z');
const pick = (i: number): JobStatus['state'] => {
  if (i < inFlight) return i % 2 ? 'queued' : 'running';
  const r = createHash('sha1').update(String(i)).digest()[0]! % 100;
  return r < 90 ? 'succeeded' : r < 98 ? 'failed' : 'cancelled';
};
const seedStarted = Date.now();
let next = 0;
await Promise.all(
  Array.from({ length: 48 }, async () => {
    for (let i = next++; i < jobs; i = next++) {
      const kind = kinds[i % 3]!;
      const jobId = `bench-${String(i).padStart(6, '0')}`;
      // Job 0 is the newest; one every 26 s back over about a month.
      const entry: JobIndexEntry = { jobId, state: pick(i), kind, input: { bucket: emulator.bucket, key: `uploads/${jobId}/take-${i}.${ext[kind]}` }, createdAt: new Date(newest - i * 26_000).toISOString() };
      await Promise.all(jobIndexKeys(entry).map((k) => index.keys.put(k)));
      memory.add(...jobIndexKeys(entry));
      if (i < inFlight) {
        const status: JobStatus = { jobId, kind, state: entry.state as JobStatus['state'], input: entry.input, stages: {}, outputs: {}, updatedAt: entry.createdAt, createdAt: entry.createdAt };
        await store.putJson(statusKey(jobId), status);
      }
    }
  }),
);
const seedSeconds = (Date.now() - seedStarted) / 1000;

// --- measure ----------------------------------------------------------------------------------------
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;
interface Row {
  name: string;
  ms: number[];
  lists: number;
  gets: number;
  found: number;
  more: boolean;
}
const rows: Row[] = [];

async function measure(name: string, query: JobsQuery, lister: () => JobList): Promise<void> {
  const ms: number[] = [];
  let last = { lists: 0, gets: 0, found: 0, more: false };
  for (let r = 0; r < rounds; r++) {
    const list = lister();
    counts.clear();
    memory.lists = 0;
    const t0 = performance.now();
    const page = await list.page({ limit: 50, ...query });
    ms.push(performance.now() - t0);
    // LISTs of the in-memory copy count as the LISTs S3 would have answered.
    last = { lists: (counts.get('ListObjectsV2Command') ?? 0) + memory.lists, gets: counts.get('GetObjectCommand') ?? 0, found: page.jobs.length, more: page.nextCursor !== null };
  }
  rows.push({ name, ms, ...last });
}

const fresh = () => new JobList({ index, statuses });
const warm = fresh();
await warm.page({ limit: 50 });
await measure('first page, cold (a new lister: the 20 in-flight entries checked)', {}, fresh);
await measure('first page, warm (checks remembered)', {}, () => warm);
await measure('state=failed (its own prefix)', { state: 'failed' }, () => warm);
await measure('kind=video (filtered while listing)', { kind: 'video' }, () => warm);
await measure('state=failed&kind=audio', { state: 'failed', kind: 'audio' }, () => warm);
await measure(`q=take-${Math.floor(jobs / 2)}. (one old job: 10 LISTs, then a cursor)`, { q: `take-${Math.floor(jobs / 2)}.` }, () => warm);
const memoryIndex = new JobIndex(memory);
const memoryWarm = new JobList({ index: memoryIndex, statuses });
await memoryWarm.page({ limit: 50 });
await measure('in memory: first page, cold', {}, () => new JobList({ index: memoryIndex, statuses }));
await measure('in memory: first page, warm', {}, () => memoryWarm);
await measure('in memory: state=failed', { state: 'failed' }, () => memoryWarm);
await measure('in memory: kind=video', { kind: 'video' }, () => memoryWarm);
await measure(`in memory: q=take-${Math.floor(jobs / 2)}. (10,000 names looked at)`, { q: `take-${Math.floor(jobs / 2)}.` }, () => memoryWarm);

const queueUrls = Object.fromEntries(stageNames.map((s) => [s, emulator.queues[s].url])) as Record<StageName, string>;
const dashboard = await startDashboard({ host: '127.0.0.1', port: 0, s3: clients.s3, sqs: clients.sqs, bucket: emulator.bucket, queueUrls, logger: pino({ level: 'silent' }) });
const httpMs: number[] = [];
for (let r = 0; r < rounds; r++) {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    request(`${dashboard.url}api/jobs`, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(String(res.statusCode)))));
    })
      .on('error', reject)
      .end();
  });
  httpMs.push(performance.now() - t0);
}
await dashboard.close();
const bareMs: number[] = [];
for (let r = 0; r < rounds; r++) {
  const t0 = performance.now();
  await index.keys.list(jobIndexScope(), { maxKeys: 60 });
  bareMs.push(performance.now() - t0);
}
await emulator.stop();

console.log(`\n${jobs} jobs (${jobs * 2} index entries + ${inFlight} status.json), seeded in ${seedSeconds.toFixed(0)} s; ${rounds} rounds, node ${process.version}\n`);
console.log('| page (limit 50) | ms, median (min-max) | S3 LISTs | S3 GETs | jobs | cursor |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.name} | ${fmt(r.ms)} | ${r.lists} | ${r.gets} | ${r.found} | ${r.more ? 'yes' : 'no'} |`);
console.log(`| first page through GET /api/jobs (HTTP, a running dashboard) | ${fmt(httpMs)} | 1 | 0 | 50 | yes |`);
console.log(`| one bare LIST of 60 names (the emulator's floor) | ${fmt(bareMs)} | 1 | 0 | | |`);
