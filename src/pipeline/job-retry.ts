import type { Logger } from 'pino';
import { errorMessage } from '../contract/errors.js';
import { JobRequestEnvelope, kindOptionsOf, type JobRequest } from '../contract/job.js';
import { jobRequestKey } from '../contract/job-keys.js';
import type { JobStatus } from '../contract/status-document.js';
import type { Channel, Publisher } from '../queue/publisher.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { RequestedJob } from './ingestion-request.js';
import type { JobStatusStore } from './job-status.js';

/** What a retry sends again: the request as asked for, without its timing or uniqueness (those were settled). */
export function requestRecordOf(request: RequestedJob): JobRequest {
  return { jobId: request.jobId, input: request.input, ...(request.kind ? { kind: request.kind } : {}), ...kindOptionsOf(request) };
}

/** Keeps the request for a later retry (`jobs/.stageline/requests/<jobId>.json`): the status document has no options. */
export async function keepRequest(store: ObjectStore, request: RequestedJob, signal?: AbortSignal): Promise<void> {
  await store.putJson(jobRequestKey(request.jobId), requestRecordOf(request), signal);
}

export interface RetryDeps {
  store: ObjectStore;
  statuses: JobStatusStore;
  publisher: Publisher;
  ingestion: Channel<typeof JobRequestEnvelope>;
  logger?: Logger;
}

/** The job was reopened but its request could not be sent: it has been failed again with RETRY_NOT_SENT. */
export class RetryNotSentError extends Error {
  override readonly name = 'RetryNotSentError';
}

export type RetryResult =
  /** `optionsFrom`: the kept request, or (a job from before requests were kept) the kind's defaults. */
  | { outcome: 'retried'; status: JobStatus; optionsFrom: 'request' | 'defaults' }
  | { outcome: 'missing' }
  | { outcome: 'refused'; status: JobStatus; reason: string };

/**
 * Runs a failed job again: the status becomes `queued` (the `retried` transition: its error and its
 * failed stage's record are dropped), then the request goes to the ingestion queue again with the same
 * jobId, input, kind and options. The status is written first, conditionally, so of two racing retries
 * one sends; if the send then fails, the job is failed again with `RETRY_NOT_SENT` (a job left `queued`
 * with no message would wait for ever) and the error is thrown. Stages the job had passed run again
 * (their outputs are rewritten with the same content) and keep their records.
 */
export async function retryJob(deps: RetryDeps, jobId: string, signal?: AbortSignal): Promise<RetryResult> {
  const current = await deps.statuses.get(jobId, signal);
  if (!current) return { outcome: 'missing' };
  // Read before the job is reopened: a reopened job must not be left queued because this read failed.
  const kept = await deps.store.getJson(jobRequestKey(jobId), JobRequestEnvelope, signal);
  const { status, changed } = await deps.statuses.retried(current, signal);
  if (!changed) return { outcome: 'refused', status, reason: refusal(status) };
  const kind = kept?.kind ?? current.kind;
  const request: JobRequest = { ...(kept ? kindOptionsOf(kept) : {}), jobId, input: current.input, ...(kind ? { kind } : {}) };
  try {
    await deps.publisher.publish(deps.ingestion, request);
  } catch (err) {
    const stage = current.error?.stage ?? 'ingestion';
    const message = `The retry could not be sent to the ingestion queue (${errorMessage(err)}). Retry again.`;
    await deps.statuses.stageFailed(current, stage, 0, { code: 'RETRY_NOT_SENT', message }, signal).catch((writeErr: unknown) => {
      deps.logger?.error({ jobId, err: errorMessage(writeErr) }, 'a retry was not sent and the job could not be failed again: it stays queued');
    });
    throw new RetryNotSentError(message, { cause: err });
  }
  deps.logger?.info({ jobId, kind, optionsFrom: kept ? 'request' : 'defaults' }, 'job retried');
  return { outcome: 'retried', status, optionsFrom: kept ? 'request' : 'defaults' };
}

function refusal(status: JobStatus): string {
  return `the job is ${status.state}: only a failed job can be retried`;
}
