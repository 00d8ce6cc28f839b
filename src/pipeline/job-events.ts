import type { Channel, Publisher } from '../queue/publisher.js';
import type { JobStatus } from './job-status.js';
import { JobEvent, type StageName } from './messages.js';

/** Publishes `job.succeeded` / `job.failed` to the events queue, when one is configured. */
export class JobEvents {
  constructor(
    private readonly publisher: Publisher,
    private readonly channel: Channel<typeof JobEvent> | undefined,
  ) {}

  async succeeded(status: JobStatus): Promise<void> {
    if (!this.channel) return;
    await this.publisher.publish(this.channel, {
      type: 'job.succeeded',
      jobId: status.jobId,
      kind: status.kind,
      input: status.input,
      outputs: status.outputs,
      at: status.updatedAt,
    });
  }

  async failed(status: JobStatus, stage: StageName, error: { code: string; message: string }): Promise<void> {
    if (!this.channel) return;
    await this.publisher.publish(this.channel, {
      type: 'job.failed',
      jobId: status.jobId,
      kind: status.kind,
      input: status.input,
      outputs: status.outputs,
      error: { ...error, stage },
      at: status.updatedAt,
    });
  }
}
