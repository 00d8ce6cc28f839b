import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pino, type Logger } from 'pino';
import type { z } from 'zod';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import type { Worker } from '../../src/daemon/worker.js';
import { checkConditionalWrites, JobStatusStore, type StatusWrite } from '../../src/pipeline/job-status.js';
import { JobStatus, type JobIdentity } from '../../src/contract/status-document.js';
import { JobEvent, type JobMessage } from '../../src/contract/job.js';
import { ObjectStore, type Versioned } from '../../src/storage/object-store.js';
import { TaskRegistry } from '../../src/pipeline/registry.js';
import { startConditionalStoreProxy, type ConditionalStoreProxy } from '../helpers/conditional-store-proxy.js';
import { eventually, finalStatus, jobStatus, queueDepth, receiveAll, sendRaw, startStack, startTestWorker, type TestStack } from '../helpers/pipeline.js';
import { RecordingTask } from '../helpers/recording-task.js';

let stack: TestStack;
let proxy: ConditionalStoreProxy;
/** Clients whose S3 traffic goes through the enforcing proxy. */
let enforced: AwsClients;
let enforcedStore: ObjectStore;

before(async () => {
  stack = await startStack();
  proxy = await startConditionalStoreProxy(stack.emulator.endpoint);
  enforced = createAwsClients({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: proxy.url });
  enforcedStore = new ObjectStore(enforced.s3, stack.emulator.bucket);
});
after(async () => {
  await proxy.close();
  await stack.stop();
});

const identity = (jobId: string): JobIdentity => ({ jobId, kind: 'csv', input: { bucket: 'stageline', key: `uploads/${jobId}/data.csv` } });

function capturingLogger(): { logger: Logger; lines: () => { level: number; msg: string }[] } {
  const raw: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void raw.push(line) });
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

/** An ObjectStore that lets another writer in between a status read and the write that follows it, once. */
class InterleavingStore extends ObjectStore {
  constructor(
    inner: ObjectStore,
    private interleave: (() => Promise<unknown>) | undefined,
  ) {
    super(inner.client, inner.bucket);
  }

  override async getJsonVersioned<S extends z.ZodType>(key: string, schema: S, signal?: AbortSignal): Promise<Versioned<z.infer<S>> | undefined> {
    const read = await super.getJsonVersioned(key, schema, signal);
    const other = this.interleave;
    this.interleave = undefined;
    await other?.();
    return read;
  }
}

test('the start-up check tells a store that honours conditional writes from one that ignores them, and warns once', async () => {
  assert.equal(await stack.store.honoursConditionalWrites(), false, 'fauxqs 1.9.2 ignores If-None-Match on PutObject');
  assert.equal(await enforcedStore.honoursConditionalWrites(), true, 'the enforcing proxy answers 412, as AWS does');

  const ignoring = capturingLogger();
  assert.equal(await checkConditionalWrites(stack.store, ignoring.logger), false);
  assert.equal(ignoring.lines().length, 1);
  assert.match(ignoring.lines()[0]?.msg ?? '', /ignores conditional writes/);
  const honouring = capturingLogger();
  assert.equal(await checkConditionalWrites(enforcedStore, honouring.logger), true);
  assert.deepEqual(honouring.lines(), []);

  // The worker runs the check at start-up.
  const started = capturingLogger();
  const worker = await startTestWorker(stack, { logger: started.logger, registry: new TaskRegistry() });
  try {
    await eventually(async () => (started.lines().some((l) => /ignores conditional writes/.test(l.msg)) ? true : undefined), 'the start-up warning');
    assert.equal(started.lines().filter((l) => /ignores conditional writes/.test(l.msg)).length, 1);
  } finally {
    await worker.stop();
  }
});

test('a write over a version another writer replaced is refused (If-Match), and the loser decides again on what it finds', async () => {
  const job = identity('conflict-match');
  const other = new JobStatusStore(enforcedStore);
  await other.stageStarted(job, 'validation', 1);
  const refusedBefore = proxy.refused.ifMatch;
  // A slow attempt 1 read the running document; attempt 2 succeeds the stage before attempt 1 writes its failure.
  const slow = new JobStatusStore(new InterleavingStore(enforcedStore, () => other.stageSucceeded(job, 'validation', 2, { 'x.json': 'k' }, false)));
  const result = await slow.stageRetrying(job, 'validation', 1, { code: 'TRANSIENT_ERROR', message: 'late' });
  assert.equal(proxy.refused.ifMatch, refusedBefore + 1, 'the stale write was refused with 412');
  assert.equal(result.changed, false, 'after reading again, the late failure is not applied');
  const status = await jobStatus(stack.store, job.jobId);
  assert.equal(status?.stages.validation?.state, 'succeeded', 'the stage did not go back');
  assert.equal(status?.stages.validation?.error, undefined);
});

test("a job's first write is refused when another writer created it first (If-None-Match), and applied over it", async () => {
  const job = identity('conflict-create');
  const other = new JobStatusStore(enforcedStore);
  const refusedBefore = proxy.refused.ifNoneMatch;
  const first = new JobStatusStore(new InterleavingStore(enforcedStore, () => other.stageStarted(job, 'validation', 2)));
  const result = await first.stageStarted(job, 'ingestion', 1);
  assert.equal(proxy.refused.ifNoneMatch, refusedBefore + 1, 'the create was refused with 412');
  // Read again: the job has moved past ingestion, so the stale start changes nothing.
  assert.equal(result.changed, false);
  const status = await jobStatus(stack.store, job.jobId);
  assert.equal(status?.stages.validation?.attempts, 2);
  assert.equal(status?.stages.ingestion, undefined);

  // Many first writes at once: one creates the document, every other one re-reads and applies on top.
  const many = identity('conflict-many');
  const writes = await Promise.all([1, 2, 3, 4, 5, 6].map((attempt) => new JobStatusStore(enforcedStore).stageStarted(many, 'validation', attempt)));
  assert.ok(writes.some((w) => w.changed));
  const after = await jobStatus(stack.store, many.jobId);
  assert.equal(after?.stages.validation?.attempts, 6, 'the newest attempt is what stands, whatever the order of the writes');
});

test('writers racing to end a job: exactly one write makes it final', async () => {
  for (let round = 0; round < 3; round++) {
    const job = identity(`terminal-${round}`);
    await new JobStatusStore(enforcedStore).stageStarted(job, 'analysis', 1);
    const writers = (): Promise<StatusWrite>[] => {
      const s = () => new JobStatusStore(enforcedStore);
      return [
        s().stageSucceeded(job, 'analysis', 1, { 'a.json': 'k' }, true),
        s().stageSucceeded(job, 'analysis', 2, { 'a.json': 'k' }, true),
        s().stageFailed(job, 'analysis', 1, { code: 'CSV_EMPTY', message: 'empty' }),
        s().deadLettered(job, 'analysis'),
        s().deadLettered(job, 'analysis'),
      ];
    };
    const results = await Promise.all(writers());
    const winners = results.filter((r) => r.becameFinal);
    assert.equal(winners.length, 1, `round ${round}: ${winners.length} writers believed they ended the job`);
    const stored = await jobStatus(stack.store, job.jobId);
    assert.equal(stored?.state, winners[0]?.status.state);
    assert.deepEqual(stored?.error, winners[0]?.status.error);
  }
});

test('a redelivery racing a slow worker: no stage goes back, one job.succeeded; a late redelivery of the finished job does no work', async () => {
  // The first delivery of the job is slow; a second copy of the same message (SQS delivers at least once) is quick.
  const validation = new RecordingTask('validate', async (_ctx, run) => {
    if (run === 1) await new Promise((r) => setTimeout(r, 3000));
  });
  const analysis = new RecordingTask('analyse');
  const registry = () => new TaskRegistry().register('validation', 'csv', validation).register('analysis', 'csv', analysis);
  const clients = { sqs: stack.clients.sqs, s3: enforced.s3 };
  const workers: Worker[] = [await startTestWorker(stack, { clients, registry: registry() }), await startTestWorker(stack, { clients, registry: registry() })];
  const jobId = 'race-1';
  const message: JobMessage = { jobId, kind: 'csv', input: { bucket: 'stageline', key: `uploads/${jobId}/data.csv` }, outputs: {} };
  // Every version of the status document the store took, in order: what any reader could have seen.
  const written = proxy.watch(`/jobs/${jobId}/status.json`);
  const settled = async (url: string) => {
    const d = await queueDepth(stack.clients.sqs, url);
    return d.visible === 0 && d.inFlight === 0 ? true : undefined;
  };
  try {
    const conditionalBefore = proxy.conditional.ifMatch + proxy.conditional.ifNoneMatch;
    await Promise.all([0, 1].map(() => sendRaw(stack.clients.sqs, stack.emulator.queues.validation.url, JSON.stringify(message))));
    const status = await finalStatus(stack.store, jobId);
    assert.equal(status.state, 'succeeded');
    await eventually(async () => (validation.runs.length === 2 ? true : undefined), 'both deliveries to run');
    await eventually(() => settled(stack.emulator.queues.validation.url), 'both validation deliveries settled');
    await eventually(() => settled(stack.emulator.queues.analysis.url), 'analysis settled');
    assert.ok(proxy.conditional.ifMatch + proxy.conditional.ifNoneMatch > conditionalBefore, 'status writes went through the enforcing store');
    assert.equal(analysis.runs.length, 1, 'the slow delivery did not send the finished job on again');

    // A late copy of the validation message, after the job ended.
    const finished = await jobStatus(stack.store, jobId);
    await sendRaw(stack.clients.sqs, stack.emulator.queues.validation.url, JSON.stringify(message));
    await eventually(async () => ((await queueDepth(stack.clients.sqs, stack.emulator.queues.validation.url)).visible === 0 ? true : undefined), 'the late copy received');
    await eventually(() => settled(stack.emulator.queues.validation.url), 'the late copy acknowledged');
    assert.equal(validation.runs.length, 2, 'no work for a job already final');
    assert.deepEqual(await jobStatus(stack.store, jobId), finished, 'the document is untouched');

    const events: JobEvent[] = [];
    for (;;) {
      const batch = await receiveAll(stack.clients.sqs, stack.emulator.eventsQueueUrl, 1);
      if (batch.length === 0) break;
      events.push(...batch.map((m) => JobEvent.parse(JSON.parse(m.body))).filter((e) => e.jobId === jobId));
    }
    assert.deepEqual(events.map((e) => e.type), ['job.succeeded'], 'exactly one terminal event');
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }

  // Stages and the job only ever moved forward in every version anyone could read.
  const history = written.map((body) => JobStatus.parse(JSON.parse(body.toString('utf8'))));
  const rank = (state: string | undefined) => ({ running: 1, retrying: 1, succeeded: 2, failed: 2 })[state ?? ''] ?? 0;
  for (let i = 1; i < history.length; i++) {
    const [a, b] = [history[i - 1]!, history[i]!];
    assert.ok(rank(b.state) >= rank(a.state), `job went from ${a.state} to ${b.state}`);
    for (const stage of ['validation', 'analysis'] as const) {
      assert.ok(rank(b.stages[stage]?.state) >= rank(a.stages[stage]?.state), `${stage} went from ${a.stages[stage]?.state} to ${b.stages[stage]?.state}`);
    }
  }
  assert.ok(history.length >= 3, `saw the job move (${history.length} versions)`);
});

test("a stage's end is written over the version its start wrote, without reading it again; a write in between is refused and judged again", async () => {
  const reads: string[] = [];
  class CountingStore extends ObjectStore {
    override getJsonVersioned<S extends z.ZodType>(key: string, schema: S, signal?: AbortSignal): Promise<Versioned<z.infer<S>> | undefined> {
      reads.push(key);
      return super.getJsonVersioned(key, schema, signal);
    }
  }
  const statuses = new JobStatusStore(new CountingStore(enforced.s3, stack.emulator.bucket));
  const job = identity('known-version');
  const started = await statuses.stageStarted(job, 'validation', 1);
  assert.ok(started.version, 'the start reports the version it wrote');
  reads.length = 0;
  const ended = await statuses.stageSucceeded(job, 'validation', 1, { 'x.json': 'k' }, false, undefined, started.version);
  assert.equal(ended.changed, true);
  assert.deepEqual(reads, [], 'no read between the start and the end of the stage');
  assert.equal((await jobStatus(stack.store, job.jobId))?.stages.validation?.state, 'succeeded');

  // Another writer failed the job after this stage started: the end's write over the start's version is refused.
  const raced = identity('known-version-raced');
  const mine = await statuses.stageStarted(raced, 'validation', 1);
  await new JobStatusStore(enforcedStore).stageFailed(raced, 'validation', 2, { code: 'CSV_EMPTY', message: 'empty' });
  const refusedBefore = proxy.refused.ifMatch;
  const late = await statuses.stageSucceeded(raced, 'validation', 1, { 'x.json': 'k' }, false, undefined, mine.version);
  assert.equal(proxy.refused.ifMatch, refusedBefore + 1, 'the write over the stale version was refused with 412');
  assert.equal(late.changed, false, 'read again, the failed job does not become succeeded');
  assert.equal((await jobStatus(stack.store, raced.jobId))?.state, 'failed');
});
