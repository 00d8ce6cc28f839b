import { z } from 'zod';
import type { ObjectStore } from '../storage/object-store.js';
import { jobKey } from '../storage/object-store.js';
import { JobKind, ObjectRef, StageName, type JobMessage } from './messages.js';

export const ErrorInfo = z.object({ code: z.string(), message: z.string() });
export type ErrorInfo = z.infer<typeof ErrorInfo>;

export const StageStatus = z.object({
  // `retrying`: a transient failure happened and the message will be delivered again.
  state: z.enum(['queued', 'running', 'retrying', 'succeeded', 'failed']),
  attempts: z.number().int().nonnegative(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  durationMs: z.number().nonnegative().optional(),
  error: ErrorInfo.optional(),
});
export type StageStatus = z.infer<typeof StageStatus>;

/** Contract section 5: `jobs/<jobId>/status.json`. */
export const JobStatus = z.object({
  jobId: z.string(),
  kind: JobKind.optional(),
  state: z.enum(['queued', 'running', 'succeeded', 'failed']),
  input: ObjectRef,
  stages: z.partialRecord(StageName, StageStatus),
  outputs: z.record(z.string(), z.string()),
  error: ErrorInfo.extend({ stage: StageName }).optional(),
  updatedAt: z.string(),
});
export type JobStatus = z.infer<typeof JobStatus>;

export const statusKey = (jobId: string): string => jobKey(jobId, 'status.json');

type JobIdentity = Pick<JobMessage, 'jobId' | 'input'> & { kind?: JobMessage['kind'] };

/**
 * Reads and writes status documents. Stages of one job run one after another, so a read-modify-write
 * per transition is enough; the document is a view for people and tools, never a lock.
 */
export class JobStatusStore {
  constructor(
    private readonly store: ObjectStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get(jobId: string, signal?: AbortSignal): Promise<JobStatus | undefined> {
    return this.store.getJson(statusKey(jobId), JobStatus, signal);
  }

  async update(job: JobIdentity, change: (status: JobStatus, now: string) => void): Promise<JobStatus> {
    const now = this.now().toISOString();
    const status: JobStatus = (await this.get(job.jobId)) ?? {
      jobId: job.jobId,
      state: 'queued',
      input: job.input,
      stages: {},
      outputs: {},
      updatedAt: now,
    };
    if (job.kind) status.kind = job.kind;
    change(status, now);
    status.updatedAt = now;
    await this.store.putJson(statusKey(job.jobId), status);
    return status;
  }

  stageStarted(job: JobIdentity, stage: StageName, attempt: number): Promise<JobStatus> {
    return this.update(job, (s, now) => {
      s.state = 'running';
      delete s.error;
      s.stages[stage] = { state: 'running', attempts: attempt, startedAt: now };
    });
  }

  stageSucceeded(job: JobIdentity, stage: StageName, outputs: Record<string, string>, last: boolean): Promise<JobStatus> {
    return this.update(job, (s, now) => {
      const st = s.stages[stage] ?? { state: 'running', attempts: 1, startedAt: now };
      s.stages[stage] = { ...st, state: 'succeeded', finishedAt: now, durationMs: elapsed(st.startedAt, now) };
      s.outputs = { ...s.outputs, ...outputs };
      if (last) s.state = 'succeeded';
    });
  }

  /** `final`: the job is over (bad input, or the last attempt before the DLQ); otherwise it will be retried. */
  stageFailed(job: JobIdentity, stage: StageName, error: ErrorInfo, final: boolean): Promise<JobStatus> {
    return this.update(job, (s, now) => {
      const st = s.stages[stage] ?? { state: 'running', attempts: 1, startedAt: now };
      s.stages[stage] = { ...st, state: final ? 'failed' : 'retrying', finishedAt: now, durationMs: elapsed(st.startedAt, now), error };
      if (final) {
        s.state = 'failed';
        s.error = { ...error, stage };
      }
    });
  }
}

function elapsed(from: string | undefined, to: string): number {
  return from ? Math.max(0, Date.parse(to) - Date.parse(from)) : 0;
}
