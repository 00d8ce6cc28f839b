import { z } from 'zod';
import { JobId, JobKind, ObjectRef } from './job.js';
import { StageName } from './stages.js';
import { JobStatus } from './status-document.js';

/**
 * The dashboard's JSON API (contract section 8, docs/dashboard.md): every query it reads and every
 * body it answers, as one schema each. The server holds its answers to these; the tests read with them.
 */

const count = z.number().int().nonnegative();

/** One stage's queue and its dead-letter queue, as SQS counts them (approximate, as SQS says). */
export const StageQueueStats = z.object({
  /** Messages waiting to be received. */
  visible: count,
  /** Received and not yet deleted: being worked on (or held by a crashed worker until their visibility timeout). */
  inFlight: count,
  /** Sent with a delay not yet over (a delayed job's hop waits here). */
  delayed: count,
  /** Every message in the dead-letter queue, visible or not; null when the queue has no RedrivePolicy. */
  dlqDepth: count.nullable(),
  /**
   * Seconds since the oldest message now in the dead-letter queue was first sent (0 when it is empty;
   * null when it cannot be seen now, or there is no DLQ). The stage queue's own oldest age is a
   * CloudWatch metric, and peeking at its messages would spend their receive attempts: see docs/dashboard.md.
   */
  oldestAgeSeconds: z.number().nonnegative().nullable(),
  /** Why the counts could not be read (the numbers are then 0 and null). */
  error: z.string().optional(),
});
export type StageQueueStats = z.infer<typeof StageQueueStats>;

/** `GET /api/queues`: per stage. */
export const QueuesResponse = z.object({ ingestion: StageQueueStats, validation: StageQueueStats, analysis: StageQueueStats });
export type QueuesResponse = z.infer<typeof QueuesResponse>;

const JobState = JobStatus.shape.state;

/** `GET /api/jobs` query: every filter optional (empty is absent); an unknown state or kind is a 400, not an empty page; other parameters are ignored. */
export const JobsQuery = z.object({
  state: JobState.optional(),
  kind: JobKind.optional(),
  /** Matches a jobId or an input key: a part of either, case ignored. */
  q: z.string().max(1024).optional(),
  cursor: z.string().max(4096).optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});
export type JobsQuery = z.infer<typeof JobsQuery>;

/** One row of the job list: what the index entry says, checked against status.json where it could be stale. */
export const JobListItem = z.object({
  jobId: JobId,
  state: JobState,
  kind: JobKind.optional(),
  input: ObjectRef,
  createdAt: z.string(),
});
export type JobListItem = z.infer<typeof JobListItem>;

/** `GET /api/jobs`: newest first. `nextCursor` null: nothing further. A filtered page may be short and still have one. */
export const JobsPage = z.object({ jobs: z.array(JobListItem), nextCursor: z.string().nullable() });
export type JobsPage = z.infer<typeof JobsPage>;

/** `GET /api/jobs/{jobId}`: the status document (contract section 5) and, per output, where the dashboard serves it. */
export const JobDetail = JobStatus.extend({ links: z.record(z.string(), z.string()) });
export type JobDetail = z.infer<typeof JobDetail>;

/** `POST /api/jobs/{jobId}/retry` and `…/cancel`: the status document after the action. */
export const JobActionResult = z.object({
  jobId: JobId,
  action: z.enum(['retry', 'cancel']),
  status: JobStatus,
  /** A retry: the options sent again came from the kept request, or (an older job) the kind's defaults. */
  optionsFrom: z.enum(['request', 'defaults']).optional(),
});
export type JobActionResult = z.infer<typeof JobActionResult>;

/** `POST /api/dlq/{stage}/redrive`: how many messages went back to the stage queue. */
export const RedriveResult = z.object({ stage: StageName, moved: count });
export type RedriveResult = z.infer<typeof RedriveResult>;

/** Every error: a sentence a person can act on. */
export const ApiError = z.object({ error: z.string() });
export type ApiError = z.infer<typeof ApiError>;

/** Server-Sent Events of `GET /api/events`: `event: queues` with QueuesResponse, `event: job` with a JobListItem that is new or changed. */
export const sseEventNames = ['queues', 'job'] as const;
