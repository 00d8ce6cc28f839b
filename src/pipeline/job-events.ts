import type { Channel, Publisher } from '../queue/publisher.js';
import type { JobStatus } from './job-status.js';
import { JobEvent, type StageName } from './messages.js';

/** Publishes `job.succeeded` / `job.failed` to the events queue, when one is configured. */
export class JobEvents {
  constructor(
    private readonly publisher: Publisher,
    private readonly channel: Channel<typeof JobEvent> | undefined,
  ) {}

  succeeded(status: JobStatus): Promise<void> {
    return this.publish('job.succeeded', status);
  }

  failed(status: JobStatus, stage: StageName, error: { code: string; message: string }): Promise<void> {
    return this.publish('job.failed', status, { ...error, stage });
  }

  private async publish(type: JobEvent['type'], status: JobStatus, error?: JobEvent['error']): Promise<void> {
    if (!this.channel) return;
    await this.publisher.publish(this.channel, {
      type,
      jobId: status.jobId,
      kind: status.kind,
      input: status.input,
      outputs: status.outputs,
      ...(error ? { error } : {}),
      at: status.updatedAt,
    });
  }
}
