/**
 * Attacks on what a job may read and which job a jobId names, through the whole running worker:
 * reads stay inside INPUT_BUCKETS under INPUT_PREFIXES (never jobs/), nothing forbidden is even asked of
 * S3, MAX_INPUT_BYTES is checked before any download, and a jobId belongs to its first input.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { pino, type Logger } from 'pino';
import { createAwsClients } from '../../src/aws/clients.js';
import type { Worker } from '../../src/daemon/worker.js';
import { s3JobId } from '../../src/pipeline/ingestion-request.js';
import { JobIdConflictError, JobStatusStore } from '../../src/pipeline/job-status.js';
import { JobStatus } from '../../src/contract/status-document.js';
import { JobEvent, type JobMessage } from '../../src/contract/job.js';
import { stageNames } from '../../src/contract/stages.js';
import { expectRefused, expectStillServing, startAttackBench, type AttackBench } from '../helpers/attack.js';
import { startConditionalStoreProxy, type ConditionalStoreProxy } from '../helpers/conditional-store-proxy.js';
import { eventually, finalStatus, jobStatus, putObject, queueDepth, receiveAll, sendRaw, startStack, startTestWorker, type TestStack } from '../helpers/pipeline.js';
import { recordS3Reads, type S3Read } from '../helpers/s3-reads.js';

const maxInputBytes = 64 * 1024;
const secretBucket = 'partner-secret';
const victimId = 'victim-1';
const victimCsv = 'name,secret\nalice,victim-secret-1\nbob,victim-secret-2\n';

/** A logger that keeps warn-and-above lines, to see what the worker said about a refused request. */
function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void raw.push(line) });
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** Every object under a job's prefix, byte for byte, read with a client of the test's own. */
async function snapshot(s3: S3Client, bucket: string, jobId: string): Promise<Map<string, string>> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `jobs/${jobId}/` }));
  const objects = new Map<string, string>();
  for (const { Key } of listed.Contents ?? []) {
    if (!Key) continue;
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
    objects.set(Key, Buffer.from(await res.Body!.transformToByteArray()).toString('base64'));
  }
  return objects;
}

/** The ingestion queue and every DLQ are empty: the message was settled and nothing was dead-lettered. */
async function settled(stack: TestStack): Promise<true | undefined> {
  for (const url of [stack.emulator.queues.ingestion.url, ...stageNames.map((s) => stack.emulator.queues[s].dlqUrl)]) {
    const d = await queueDepth(stack.clients.sqs, url);
    if (d.visible !== 0 || d.inFlight !== 0) return undefined;
  }
  return true;
}

describe('reads stay in scope, and a jobId belongs to its first input', () => {
  let bench: AttackBench;
  let reads: S3Read[];
  let log: ReturnType<typeof capturingLogger>;
  let observer: S3Client;
  let victim: Map<string, string>;
  let attacks = 0;

  /** The worker's reads since `mark` of a key (in any bucket) or of a bucket. */
  const readsSince = (mark: number) => reads.slice(mark);

  before(async () => {
    log = capturingLogger();
    bench = await startAttackBench({ MAX_INPUT_BYTES: String(maxInputBytes) }, { logger: log.logger });
    // The worker was built on these clients: from now on, every GetObject and HeadObject it sends is seen.
    reads = recordS3Reads(bench.stack.clients.s3);
    observer = createAwsClients(bench.stack.config).s3;
    bench.stack.emulator.server.createBucket(secretBucket);
    await putObject(observer, secretBucket, 'uploads/secret.csv', 'token\ntop-secret-partner-value\n');

    await bench.put(`uploads/${victimId}/data.csv`, victimCsv);
    await bench.send({ jobId: victimId, input: { key: `uploads/${victimId}/data.csv` } });
    assert.equal((await finalStatus(bench.stack.store, victimId, 60_000)).state, 'succeeded');
    await eventually(async () => bench.events.get(victimId), 'the victim job.succeeded event');
    victim = await snapshot(observer, bench.stack.emulator.bucket, victimId);
    assert.ok(victim.has(`jobs/${victimId}/validated.csv`) && victim.has(`jobs/${victimId}/status.json`));
  });
  after(() => bench?.stop());

  /** The victim's status.json and outputs are byte for byte what they were, with no object added, and it has one terminal event. */
  const expectVictimUntouched = async () => {
    assert.deepEqual(await snapshot(observer, bench.stack.emulator.bucket, victimId), victim);
    assert.deepEqual(bench.events.get(victimId)?.map((e) => e.type), ['job.succeeded']);
  };

  /** Sends a job request that must be refused with INPUT_FORBIDDEN, with no read of `forbidden` (bucket, key prefix). */
  const expectForbidden = async (request: Record<string, unknown>, forbidden: (r: S3Read) => boolean) => {
    const jobId = `attack-${++attacks}`;
    const mark = reads.length;
    await bench.send({ jobId, ...request });
    const status = await expectRefused(bench, jobId, 'INPUT_FORBIDDEN');
    assert.deepEqual(status.outputs, {}, 'the attacker got no outputs');
    const offending = readsSince(mark).filter(forbidden);
    assert.deepEqual(offending, [], 'nothing forbidden was asked of S3');
    await expectVictimUntouched();
    return { status, reads: readsSince(mark) };
  };

  test("a job request whose input is another job's output is refused, and nothing of that job is read", async () => {
    const victimKey = (r: S3Read) => r.key.startsWith(`jobs/${victimId}/`);
    for (const name of ['validated.csv', 'status.json']) {
      const { status } = await expectForbidden({ input: { key: `jobs/${victimId}/${name}` }, kind: 'csv' }, victimKey);
      assert.match(status.stages.ingestion?.error?.message ?? '', /never input/);
    }
  });

  test('a job request naming a bucket other than S3_BUCKET is refused: the secret object is never read', async () => {
    await expectForbidden({ input: { bucket: secretBucket, key: 'uploads/secret.csv' } }, (r) => r.bucket === secretBucket);
  });

  test('keys that only look like they lie under uploads/ are refused before any read (.., URL escapes, fullwidth, backslashes)', async () => {
    const victimKey = (r: S3Read) => r.key.includes(victimId);
    for (const key of [
      `uploads/../jobs/${victimId}/validated.csv`,
      `uploads/%2e%2e/jobs/${victimId}/validated.csv`,
      `uploads/\uff0e\uff0e/jobs/${victimId}/validated.csv`,
      `uploads\\..\\jobs\\${victimId}\\validated.csv`,
      `uploads//../jobs/${victimId}/validated.csv`,
    ]) {
      await expectForbidden({ input: { key }, kind: 'csv' }, victimKey);
    }
  });

  test('an S3 event for an object outside the scope starts a job that is refused, and reads nothing', async () => {
    const event = (bucket: string, key: string) => ({
      Records: [{ eventVersion: '2.1', eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: bucket }, object: { key, size: 10, sequencer: '0A1' } } }],
    });
    for (const [bucket, encoded, decoded] of [
      [secretBucket, 'uploads/secret.csv', 'uploads/secret.csv'],
      [bench.stack.emulator.bucket, `uploads%2F..%2Fjobs%2F${victimId}%2Fvalidated.csv`, `uploads/../jobs/${victimId}/validated.csv`],
      [bench.stack.emulator.bucket, 'other/x.csv', 'other/x.csv'],
    ] as const) {
      const mark = reads.length;
      await bench.send(event(bucket, encoded));
      const status = await expectRefused(bench, s3JobId(bucket, decoded, '0A1'), 'INPUT_FORBIDDEN');
      assert.deepEqual(status.input, { bucket, key: decoded });
      assert.deepEqual(readsSince(mark).filter((r) => r.key === decoded), []);
    }
    await expectVictimUntouched();
  });

  test('csv.schemaKey obeys the same rule: refused at ingestion, before the schema or even the input is read', async () => {
    await bench.put('uploads/attack-schema/data.csv', 'name\nx\n');
    const { reads: seen } = await expectForbidden(
      { input: { key: 'uploads/attack-schema/data.csv' }, csv: { schemaKey: `jobs/${victimId}/validation.json` } },
      (r) => r.key.startsWith(`jobs/${victimId}/`),
    );
    assert.deepEqual(seen.filter((r) => r.key === 'uploads/attack-schema/data.csv'), [], 'a job refused at ingestion reads nothing');
  });

  test('a stage message naming a forbidden input is refused by that stage as a job request would be', async () => {
    const jobId = `attack-${++attacks}`;
    const mark = reads.length;
    const forged: JobMessage = { jobId, kind: 'csv', input: { bucket: bench.stack.emulator.bucket, key: `jobs/${victimId}/validated.csv` }, outputs: {} };
    await sendRaw(bench.stack.clients.sqs, bench.stack.emulator.queues.validation.url, JSON.stringify(forged));
    const status = await expectRefused(bench, jobId, 'INPUT_FORBIDDEN');
    assert.equal(status.error?.stage, 'validation');
    assert.deepEqual(readsSince(mark).filter((r) => r.key.startsWith(`jobs/${victimId}/`)), []);
    await expectVictimUntouched();
  });

  test('an input over MAX_INPUT_BYTES fails with INPUT_TOO_LARGE from its size alone: it is never downloaded', async () => {
    const jobId = `attack-${++attacks}`;
    const key = `uploads/${jobId}/big.csv`;
    await bench.put(key, 'n\n' + '1\n'.repeat(maxInputBytes));
    const mark = reads.length;
    await bench.send({ jobId, input: { key } });
    const status = await expectRefused(bench, jobId, 'INPUT_TOO_LARGE');
    assert.match(status.error?.message ?? '', new RegExp(`MAX_INPUT_BYTES \\(${maxInputBytes}\\)`));
    assert.deepEqual(readsSince(mark).filter((r) => r.key === key).map((r) => r.command), ['HeadObjectCommand']);
  });

  test('a job request reusing an existing jobId with another input is refused with JOB_ID_CONFLICT; the job, its status and outputs are untouched', async () => {
    const key = 'uploads/attacker/data.csv';
    await bench.put(key, 'name,secret\nmallory,overwritten\n');
    const mark = reads.length;
    const linesBefore = log.lines().length;
    await bench.send({ jobId: victimId, input: { key } });
    const refusal = await eventually(
      async () => log.lines().slice(linesBefore).find((l) => l.code === 'JOB_ID_CONFLICT'),
      'the refusal in the log',
      60_000,
    );
    assert.equal(refusal.jobId, victimId);
    assert.equal(refusal.level, 40, 'logged at warn');
    assert.deepEqual(refusal.input, { bucket: bench.stack.emulator.bucket, key });
    await eventually(() => settled(bench.stack), 'the request deleted, nothing dead-lettered');
    // Anything written or published late would show up within a couple of reads.
    await new Promise((r) => setTimeout(r, 1500));
    await expectVictimUntouched();
    assert.deepEqual(readsSince(mark).filter((r) => r.key === key), [], 'the refused input was never read');

    // A different bucket with the same key is another input as well.
    await bench.send({ jobId: victimId, input: { bucket: secretBucket, key: `uploads/${victimId}/data.csv` } });
    await eventually(async () => (log.lines().slice(linesBefore).filter((l) => l.code === 'JOB_ID_CONFLICT').length === 2 ? true : undefined), 'the second refusal');
    await eventually(() => settled(bench.stack), 'the second request deleted');
    await expectVictimUntouched();
    await expectStillServing(bench);
  });

  test('a request reusing the jobId of a job still running is refused too: that job finishes on its own input', async () => {
    const jobId = 'victim-running';
    const own = 'name,secret\ncarol,running-secret\n';
    const key = 'uploads/attacker-running/data.csv';
    await bench.put(`uploads/${jobId}/data.csv`, own);
    await bench.put(key, 'name,secret\nmallory,overwritten\n');
    // Validation's write of the running job's validated.csv takes 3 s: the attack lands while the job is in flight.
    // (Its input fits validation's 1 MiB head read, so that ranged read is the only read of it validation makes.)
    bench.stack.clients.s3.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: string };
        if (context.commandName === 'PutObjectCommand' && input.Key === `jobs/${jobId}/validated.csv`) await new Promise((r) => setTimeout(r, 3000));
        return next(args);
      },
      { step: 'initialize', name: 'slowRunningVictim' },
    );
    await bench.send({ jobId, input: { key: `uploads/${jobId}/data.csv` } });
    await eventually(async () => ((await jobStatus(bench.stack.store, jobId))?.stages.validation?.state === 'running' ? true : undefined), 'the job in validation');
    const mark = reads.length;
    const linesBefore = log.lines().length;
    await bench.send({ jobId, input: { key } });
    await eventually(async () => log.lines().slice(linesBefore).find((l) => l.code === 'JOB_ID_CONFLICT' && l.jobId === jobId), 'the refusal in the log');
    const status = await finalStatus(bench.stack.store, jobId, 60_000);
    assert.equal(status.state, 'succeeded', JSON.stringify(status));
    assert.deepEqual(status.input, { bucket: bench.stack.emulator.bucket, key: `uploads/${jobId}/data.csv` });
    for (const [stage, s] of Object.entries(status.stages)) assert.equal(s?.attempts, 1, `${stage}: one attempt`);
    const validated = await observer.send(new GetObjectCommand({ Bucket: bench.stack.emulator.bucket, Key: `jobs/${jobId}/validated.csv` }));
    assert.equal(await validated.Body?.transformToString(), own, 'its outputs come from its own input');
    assert.deepEqual(readsSince(mark).filter((r) => r.key === key), [], 'the refused input was never read');
    await eventually(async () => bench.events.get(jobId), 'its terminal event');
    await eventually(() => settled(bench.stack), 'every message settled');
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(bench.events.get(jobId)?.map((e) => e.type), ['job.succeeded']);
  });

  test('the same jobId with the same input is the same job: a redelivered request is acknowledged without work', async () => {
    const linesBefore = log.lines().length;
    await bench.send({ jobId: victimId, input: { key: `uploads/${victimId}/data.csv` } });
    await eventually(async () => ((await queueDepth(bench.stack.clients.sqs, bench.stack.emulator.queues.ingestion.url)).visible === 0 ? true : undefined), 'the copy received');
    await eventually(() => settled(bench.stack), 'the copy acknowledged');
    await new Promise((r) => setTimeout(r, 1500));
    await expectVictimUntouched();
    assert.deepEqual(log.lines().slice(linesBefore).filter((l) => l.code === 'JOB_ID_CONFLICT'), []);
  });

  test('the refusal itself writes nothing: the status writer throws JOB_ID_CONFLICT before any write', async () => {
    const statuses = new JobStatusStore(bench.stack.store);
    const other = { jobId: victimId, kind: 'csv' as const, input: { bucket: bench.stack.emulator.bucket, key: 'uploads/attacker/data.csv' } };
    for (const write of [
      () => statuses.stageStarted(other, 'ingestion', 2),
      () => statuses.stageFailed(other, 'ingestion', 2, { code: 'X', message: 'x' }),
      () => statuses.deadLettered(other, 'validation'),
    ]) {
      await assert.rejects(write(), (err: unknown) => err instanceof JobIdConflictError && err.code === 'JOB_ID_CONFLICT' && !err.message.includes('uploads/'));
    }
    await expectVictimUntouched();
  });

  test('a stored document that is not what it should be is reported by place and size, never by its text', async () => {
    for (const [name, body] of [
      ['not-json', 'top-secret-partner-value, not JSON at all'],
      ['wrong-shape', JSON.stringify({ jobId: 'top-secret-partner-value', state: 'top-secret-partner-value', 'top-secret-partner-value': 1 })],
    ] as const) {
      const key = `jobs/junk-${name}/status.json`;
      await putObject(observer, bench.stack.emulator.bucket, key, body);
      await assert.rejects(bench.stack.store.getJson(key, JobStatus), (err: Error) => err.message.includes(key) && !err.message.includes('top-secret') && !String(err.cause ?? '').includes('top-secret'));
    }
  });

  test('after every attack the worker still serves', async () => {
    await expectStillServing(bench);
  });
});

describe('two requests racing for one new jobId, on a store that enforces conditional writes', () => {
  let stack: TestStack;
  let proxy: ConditionalStoreProxy;
  let worker: Worker;
  const log = capturingLogger();
  const rounds = 3;

  before(async () => {
    stack = await startStack();
    proxy = await startConditionalStoreProxy(stack.emulator.endpoint);
    const s3 = createAwsClients({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: proxy.url }).s3;
    // Both requests read the job's status before either writes it: each believes it is the first,
    // and only the conditional create (If-None-Match: *) can tell them apart.
    const arrived = new Map<string, { count: number; release: () => void; released: Promise<void> }>();
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        const key = (args.input as { Key?: string }).Key ?? '';
        if (context.commandName === 'GetObjectCommand' && /^jobs\/race-\d+\/status\.json$/.test(key)) {
          let gate = arrived.get(key);
          if (!gate) {
            let release = () => {};
            const released = new Promise<void>((r) => (release = r));
            gate = { count: 0, release, released };
            arrived.set(key, gate);
            setTimeout(release, 10_000).unref();
          }
          gate.count += 1;
          if (gate.count === 2) gate.release();
          await gate.released;
        }
        return next(args);
      },
      { step: 'initialize', name: 'raceBarrier' },
    );
    worker = await startTestWorker(stack, { clients: { sqs: stack.clients.sqs, s3 }, logger: log.logger });
  });
  after(async () => {
    await worker?.stop();
    await proxy?.close();
    await stack?.stop();
  });

  test('exactly one owns the job: its input is processed, the other is refused with JOB_ID_CONFLICT and writes nothing', async () => {
    for (let round = 0; round < rounds; round++) {
      const jobId = `race-${round}`;
      const inputs = ['a', 'b'].map((who) => ({ key: `uploads/${jobId}/${who}.csv`, body: `who,round\n${who},${round}\n` }));
      await Promise.all(inputs.map((i) => putObject(stack.clients.s3, stack.emulator.bucket, i.key, i.body)));
      const refusedBefore = proxy.refused.ifNoneMatch;
      await Promise.all(inputs.map((i) => sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ jobId, input: { key: i.key } }))));

      const status = await finalStatus(stack.store, jobId, 60_000);
      assert.equal(status.state, 'succeeded', JSON.stringify(status));
      const winner = inputs.find((i) => i.key === status.input.key);
      assert.ok(winner, `the status names one of the two inputs: ${status.input.key}`);
      await eventually(async () => log.lines().find((l) => l.jobId === jobId && l.code === 'JOB_ID_CONFLICT'), `the loser of ${jobId} refused`);
      assert.ok(proxy.refused.ifNoneMatch > refusedBefore, 'both tried to create the status; the store refused one');
      assert.equal(status.stages.ingestion?.attempts, 1);

      const validated = await stack.clients.s3.send(new GetObjectCommand({ Bucket: stack.emulator.bucket, Key: `jobs/${jobId}/validated.csv` }));
      assert.equal(await validated.Body?.transformToString(), winner.body, "the outputs are the owner's input");
      const events: JobEvent[] = [];
      await eventually(async () => {
        const batch = await receiveAll(stack.clients.sqs, stack.emulator.eventsQueueUrl, 1);
        events.push(...batch.map((m) => JobEvent.parse(JSON.parse(m.body))).filter((e) => e.jobId === jobId));
        return batch.length === 0 && events.length > 0 ? true : undefined;
      }, `the events of ${jobId}`);
      assert.deepEqual(events.map((e) => e.type), ['job.succeeded'], 'one terminal event, the owner\'s');
      assert.deepEqual(await jobStatus(stack.store, jobId), status, 'the loser wrote nothing after the owner finished');
    }
  });
});
