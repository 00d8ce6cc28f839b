/**
 * Attacks through the whole running worker (job request or S3 event in; status.json, queues and events out),
 * and the checks every refused attack must pass: the job ends `failed` with a permanent code within a minute,
 * one attempt per stage, nothing in any DLQ, exactly one `job.failed` event; afterwards the worker still
 * answers /healthz with 200 and a normal job succeeds.
 */
import assert from 'node:assert/strict';
import { ReceiveMessageCommand, DeleteMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { Worker, WorkerOptions } from '../../src/daemon/worker.js';
import { JobEvent } from '../../src/contract/job.js';
import { stageNames } from '../../src/contract/stages.js';
import type { JobStatus } from '../../src/contract/status-document.js';
import { eventually, finalStatus, putObject, queueDepth, sendRaw, startStack, startTestWorker, type TestStack } from './pipeline.js';

export interface AttackBench {
  stack: TestStack;
  worker: Worker;
  /** Every event published so far, by jobId (the events queue is drained in the background). */
  events: Map<string, JobEvent[]>;
  /** Sends a raw ingestion message (a job request or an S3 event). */
  send(body: unknown): Promise<void>;
  put(key: string, body: Buffer | string, bucket?: string): Promise<void>;
  stop(): Promise<void>;
}

/** A real emulator, a worker with the real tasks, and a background reader of the events queue. */
export async function startAttackBench(env: Record<string, string> = {}, worker: Partial<WorkerOptions> = {}): Promise<AttackBench> {
  const stack = await startStack({}, env);
  const running = await startTestWorker(stack, worker);
  const events = new Map<string, JobEvent[]>();
  const reading = new AbortController();
  const sqs = stack.clients.sqs;
  const queueUrl = stack.emulator.eventsQueueUrl;
  const drain = (async () => {
    while (!reading.signal.aborted) {
      try {
        const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }), { abortSignal: reading.signal });
        const messages = res.Messages ?? [];
        for (const m of messages) {
          const event = JobEvent.parse(JSON.parse(m.Body ?? ''));
          events.set(event.jobId, [...(events.get(event.jobId) ?? []), event]);
        }
        if (messages.length > 0) {
          await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })) }));
        }
      } catch {
        if (!reading.signal.aborted) await new Promise((r) => setTimeout(r, 200));
      }
    }
  })();
  return {
    stack,
    worker: running,
    events,
    send: (body) => sendRaw(sqs, stack.emulator.queues.ingestion.url, typeof body === 'string' ? body : JSON.stringify(body)),
    put: (key, body, bucket = stack.emulator.bucket) => putObject(stack.clients.s3, bucket, key, body),
    stop: async () => {
      reading.abort();
      await drain;
      await running.stop();
      await stack.stop();
    },
  };
}

/**
 * The attack was refused as the contract says: failed with `code` within a minute, one attempt per stage
 * that ran, no DLQ holds anything, exactly one job.failed event. Returns the status for further checks.
 */
export async function expectRefused(bench: AttackBench, jobId: string, code: string): Promise<JobStatus> {
  const status = await finalStatus(bench.stack.store, jobId, 60_000);
  assert.equal(status.state, 'failed', JSON.stringify(status));
  const failed = Object.entries(status.stages).find(([, s]) => s?.state === 'failed');
  assert.equal(failed?.[1]?.error?.code, code, JSON.stringify(status.stages));
  for (const [stage, s] of Object.entries(status.stages)) assert.equal(s?.attempts, 1, `${stage}: one attempt, never retried`);
  for (const stage of stageNames) {
    const dlq = await queueDepth(bench.stack.clients.sqs, bench.stack.emulator.queues[stage].dlqUrl);
    assert.deepEqual(dlq, { visible: 0, inFlight: 0 }, `nothing in the ${stage} DLQ`);
  }
  const events = await eventually(async () => bench.events.get(jobId), `the job.failed event of ${jobId}`, 10_000);
  // Anything published late would show up within a couple of reads.
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual((bench.events.get(jobId) ?? events).map((e) => e.type), ['job.failed'], 'exactly one terminal event');
  return status;
}

let normalJobs = 0;

/** After an attack the worker still runs: /healthz answers 200 and a normal CSV job succeeds. */
export async function expectStillServing(bench: AttackBench): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${bench.worker.httpPort}/healthz`);
  assert.equal(res.status, 200, await res.text());
  const jobId = `normal-after-attack-${++normalJobs}`;
  await bench.put(`uploads/${jobId}/ok.csv`, 'name,count\nalpha,1\nbeta,2\n');
  await bench.send({ jobId, input: { key: `uploads/${jobId}/ok.csv` } });
  const status = await finalStatus(bench.stack.store, jobId, 60_000);
  assert.equal(status.state, 'succeeded', JSON.stringify(status));
}
