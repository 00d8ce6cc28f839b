import { z } from 'zod';
import { JobKind, ObjectRef, type JobMessage } from './job.js';
import { StageName } from './stages.js';

/** The status document's shape (contract section 5): the one schema its writer, its rules and its readers share. */
export const ErrorInfo = z.object({ code: z.string(), message: z.string() });
export type ErrorInfo = z.infer<typeof ErrorInfo>;

export const StageStatus = z.object({
  // `retrying`: the attempt failed; the message will be delivered again (after the last attempt, it is dead-lettered).
  state: z.enum(['queued', 'running', 'retrying', 'succeeded', 'failed']),
  attempts: z.number().int().nonnegative(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  durationMs: z.number().nonnegative().optional(),
  error: ErrorInfo.optional(),
  /** While a long stage runs (a video ladder): how far it has come and when it should end. */
  progress: z.object({ percent: z.number().min(0).max(100), estimatedFinishAt: z.string().optional() }).optional(),
});
export type StageStatus = z.infer<typeof StageStatus>;

/** Contract section 5: `jobs/<jobId>/status.json`. */
export const JobStatus = z.object({
  jobId: z.string(),
  kind: JobKind.optional(),
  // `scheduled`: waits for its runAt; `cancelled`: stopped before it started. Final: succeeded, failed, cancelled.
  state: z.enum(['scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled']),
  input: ObjectRef,
  /** A delayed job: when it starts (contract section 7). */
  runAt: z.string().optional(),
  /** A unique request that created no job: the job that covers it. */
  duplicateOf: z.string().optional(),
  stages: z.partialRecord(StageName, StageStatus),
  outputs: z.record(z.string(), z.string()),
  error: ErrorInfo.extend({ stage: StageName }).optional(),
  updatedAt: z.string(),
  /** When the job's document was first written: where the job sorts in the dashboard's list (set by the status store). */
  createdAt: z.string().optional(),
});
export type JobStatus = z.infer<typeof JobStatus>;

/** What a status writer knows of its job: enough to create the document on the job's first write. */
export type JobIdentity = Pick<JobMessage, 'jobId' | 'input'> & { kind?: JobMessage['kind'] };

