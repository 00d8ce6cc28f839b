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
  wait: boolean;
  out?: (line: string) => void;
  pollMs?: number;
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
  });
  await new Publisher(sqs).publish(ingestion, request);
  out(jobId);
  if (!options.wait) return { jobId, exitCode: 0 };

  const statuses = new JobStatusStore(store);
  let last = '';
  for (;;) {
    const status = await statuses.get(jobId);
    if (status) {
      const line = progressLine(status);
      if (line !== last) out(line);
      last = line;
      if (status.state === 'succeeded') return { jobId, exitCode: 0, status };
      if (status.state === 'failed') {
        if (status.error) out(`failed in ${status.error.stage}: ${status.error.code}: ${status.error.message}`);
        return { jobId, exitCode: 1, status };
      }
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 500));
  }
}
