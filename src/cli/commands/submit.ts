import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { createAwsClients } from '../../aws/clients.js';
import { queueUrlFor, requireBucket, type Config } from '../../contract/env.js';
import type { JobKind } from '../../contract/job.js';
import type { JobStatus } from '../../contract/status-document.js';
import { JobStatusStore } from '../../pipeline/job-status.js';
import { channel, Publisher } from '../../queue/publisher.js';
import { ObjectStore } from '../../storage/object-store.js';
import { TableSchema } from '../../tasks/csv/options.js';
import { IngestionMessage, JobRequest } from '../../tasks/index.js';
import { progressLine } from '../format.js';

export interface SubmitOptions {
  file: string;
  kind?: JobKind;
  schemaFile?: string;
  /** Contract section 7: when the job starts (ISO time), or in how many seconds. */
  runAt?: string;
  delaySeconds?: number;
  /** A unique job; `key` unset: derived from the input and options. */
  unique?: { key?: string };
  wait: boolean;
  out?: (line: string) => void;
  pollMs?: number;
  /** How long a unique submit without --wait waits to learn whether it was a duplicate. */
  uniqueWaitMs?: number;
}

/** Uploads FILE to `uploads/<jobId>/<basename>`, sends the job request, optionally follows the job. Returns the exit code. */
export async function submit(config: Config, options: SubmitOptions): Promise<{ jobId: string; exitCode: number; status?: JobStatus }> {
  const out = options.out ?? ((line: string) => process.stdout.write(line + '\n'));
  const { sqs, s3 } = createAwsClients(config);
  const store = new ObjectStore(s3, requireBucket(config));
  const ingestion = channel('ingestion', queueUrlFor(config, 'ingestion'), IngestionMessage);

  await stat(options.file); // a missing file fails here with the OS's own clear message
  const schema = options.schemaFile ? TableSchema.parse(JSON.parse(await readFile(options.schemaFile, 'utf8'))) : undefined;
  const jobId = randomUUID();
  const key = `uploads/${jobId}/${basename(options.file)}`;
  await store.upload(key, createReadStream(options.file), 'application/octet-stream');
  const request = JobRequest.parse({
    jobId,
    input: { bucket: store.bucket, key },
    ...(options.kind ? { kind: options.kind } : {}),
    ...(schema ? { csv: { schema } } : {}),
    ...(options.runAt !== undefined ? { runAt: options.runAt } : {}),
    ...(options.delaySeconds !== undefined ? { delaySeconds: options.delaySeconds } : {}),
    ...(options.unique ? { unique: options.unique } : {}),
  });
  await new Publisher(sqs).publish(ingestion, request);
  out(jobId);
  const statuses = new JobStatusStore(store);
  const pollMs = options.pollMs ?? 500;
  if (!options.wait) {
    if (!options.unique) return { jobId, exitCode: 0 };
    // Whether a unique request made a job is known once a worker has taken it: wait that long, briefly.
    const status = await firstStatus(statuses, jobId, options.uniqueWaitMs ?? 30_000, pollMs);
    if (status?.duplicateOf) out(`duplicate of ${status.duplicateOf}: a job with the same unique key exists; no job was created`);
    return { jobId, exitCode: 0, ...(status ? { status } : {}) };
  }

  let followed: string = jobId;
  let last = '';
  for (;;) {
    const status = await statuses.get(followed);
    if (status) {
      if (status.duplicateOf) {
        out(`duplicate of ${status.duplicateOf}: a job with the same unique key exists; following it`);
        followed = status.duplicateOf;
        continue;
      }
      const line = progressLine(status);
      if (line !== last) out(line);
      last = line;
      if (status.state === 'succeeded') return { jobId, exitCode: 0, status };
      if (status.state === 'failed') {
        if (status.error) out(`failed in ${status.error.stage}: ${status.error.code}: ${status.error.message}`);
        return { jobId, exitCode: 1, status };
      }
      if (status.state === 'cancelled') {
        out('cancelled before it started');
        return { jobId, exitCode: 1, status };
      }
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function firstStatus(statuses: JobStatusStore, jobId: string, timeoutMs: number, pollMs: number): Promise<JobStatus | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await statuses.get(jobId);
    if (status || Date.now() >= deadline) return status;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
