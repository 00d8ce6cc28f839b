import type { Logger } from 'pino';
import { errorMessage } from '../contract/errors.js';
import type { Channel, Publisher } from '../queue/publisher.js';
import type { JobStatus } from '../contract/status-document.js';
import { JobEvent } from '../contract/job.js';
import { type StageName } from '../contract/stages.js';
import { retryWhileUnavailable, type Backoff } from './store-retry.js';

export interface JobEventsOptions {
  /** Backoff while SQS is failing; tests shorten it. */
  backoff?: Backoff;
  logger?: Logger;
}

/**
 * Publishes `job.succeeded` / `job.failed` (and `job.deduplicated`) to the events queue, when one is configured. Callers publish
 * only after the status write that made the job final (`StatusWrite.becameFinal`), so each job has one
 * terminal event; while SQS is failing the send waits and tries again rather than losing it.
 */
export class JobEvents {
  constructor(
    private readonly publisher: Publisher,
    private readonly channel: Channel<typeof JobEvent> | undefined,
    private readonly options: JobEventsOptions = {},
  ) {}

  succeeded(status: JobStatus, signal?: AbortSignal): Promise<void> {
    return this.publish('job.succeeded', status, undefined, signal);
  }

  failed(status: JobStatus, stage: StageName, error: { code: string; message: string }, signal?: AbortSignal): Promise<void> {
    return this.publish('job.failed', status, { ...error, stage }, signal);
  }

  /** A unique request created no job: `status` is the request's own document, naming the job that covers it. */
  deduplicated(status: JobStatus, signal?: AbortSignal): Promise<void> {
    return this.publish('job.deduplicated', status, undefined, signal);
  }

  private async publish(type: JobEvent['type'], status: JobStatus, error: JobEvent['error'], signal: AbortSignal | undefined): Promise<void> {
    const channel = this.channel;
    if (!channel) return;
    const event: JobEvent = {
      type,
      jobId: status.jobId,
      kind: status.kind,
      input: status.input,
      outputs: status.outputs,
      ...(error ? { error } : {}),
      ...(status.duplicateOf ? { duplicateOf: status.duplicateOf } : {}),
      at: status.updatedAt,
    };
    await retryWhileUnavailable(() => this.publisher.publish(channel, event), {
      ...(signal ? { signal } : {}),
      ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
      onRetry: (err, failures, waitMs) =>
        this.options.logger?.warn({ jobId: status.jobId, type, err: errorMessage(err), failures, waitMs }, 'event not sent: SQS is failing; trying again'),
    });
  }
}
