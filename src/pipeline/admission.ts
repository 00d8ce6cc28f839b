import type { Logger } from 'pino';
import type { z } from 'zod';
import { kindOptionsOf, type JobRequest } from '../contract/job.js';
import type { Channel, Publisher } from '../queue/publisher.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { RequestedJob } from './ingestion-request.js';
import type { JobEvents } from './job-events.js';
import type { JobStatusStore } from './job-status.js';
import { checkJobReads } from './kinds.js';
import type { KindDefinition } from './task.js';
import { defaultUniqueKey, type UniqueClaims } from './unique-claims.js';

/** SQS's longest message delay: a job further ahead waits in several hops. */
export const sqsMaxDelaySeconds = 900;

export interface AdmissionDeps {
  store: ObjectStore;
  statuses: JobStatusStore;
  events: JobEvents;
  publisher: Publisher;
  kinds: readonly KindDefinition[];
  claims: UniqueClaims;
  /** Where a delayed job's next hop goes: the ingestion queue. */
  ingestionChannel?: Channel<z.ZodType<JobRequest>>;
  /** The longest hop; tests shorten it. */
  maxDelaySeconds?: number;
  now?: () => Date;
}

/** `run`: start the job now; `held`: nothing to run now (waiting for its runAt, cancelled, or a duplicate). */
export type Admission = 'run' | 'held';

/**
 * What the ingestion stage does with a request before running it (contract section 7): a unique
 * request whose key another job holds becomes a duplicate of it; a request whose runAt is ahead is
 * recorded `scheduled` and sent on to the ingestion queue again, delayed (at most 900 s a hop, each hop
 * a new message carrying the target time, so no receive attempt is spent waiting); a hop that finds
 * its job cancelled drops it. Everything else runs now.
 */
export async function admit(deps: AdmissionDeps, request: RequestedJob, signal: AbortSignal, logger: Logger): Promise<Admission> {
  const timed = request.runAt !== undefined || request.delaySeconds !== undefined;
  const unique = request.unique !== undefined && request.force !== true;
  if (!timed && !unique) return 'run';
  checkJobReads(deps.store.inputScope, deps.kinds, request);
  const existing = await deps.statuses.get(request.jobId, signal);
  if (existing) {
    // Admitted before: this is a hop or a redelivery. A cancelled job is dropped; a started or ended
    // one is the stage's to judge (a final job is acknowledged without work).
    if (existing.state === 'cancelled') {
      logger.info({ duplicateOf: existing.duplicateOf }, existing.duplicateOf ? 'duplicate request delivered again: dropped' : 'job cancelled: dropped');
      return 'held';
    }
    if (existing.state === 'scheduled') return waitFor(deps, request, existing.runAt, signal, logger);
    // Only a schedule's tick creates a job `queued` before admitting it; anything else has been admitted.
    const createdByTick = existing.state === 'queued' && Object.keys(existing.stages).length === 0;
    if (!createdByTick || !unique) return 'run';
  }
  if (unique && request.unique) {
    const info = await deps.store.head(request.input, signal);
    const key = request.unique.key ?? defaultUniqueKey(request.input, info.etag ?? '', request.kind, kindOptionsOf(request));
    const claim = await deps.claims.claim(key, request.jobId, request.unique.for, signal);
    if (!claim.claimed) {
      const { status, becameFinal } = await deps.statuses.deduplicated(request, claim.duplicateOf, signal);
      if (becameFinal) await deps.events.deduplicated(status, signal);
      logger.info({ duplicateOf: claim.duplicateOf }, 'unique job: another job holds its key; no job created');
      return 'held';
    }
  }
  if (!timed) return 'run';
  const now = clock(deps);
  const runAt = request.runAt ?? new Date(now.getTime() + (request.delaySeconds ?? 0) * 1000).toISOString();
  if (Date.parse(runAt) <= now.getTime()) return 'run';
  const { status } = await deps.statuses.scheduled(request, runAt, signal);
  // Another delivery of this request may have got there first: its document decides.
  if (status.state !== 'scheduled') return status.state === 'cancelled' ? 'held' : 'run';
  return waitFor(deps, request, status.runAt, signal, logger);
}

const clock = (deps: AdmissionDeps): Date => (deps.now ? deps.now() : new Date());

/** Sends the request's next hop towards `runAt`, or runs it when that time has come. */
async function waitFor(deps: AdmissionDeps, request: RequestedJob, runAt: string | undefined, signal: AbortSignal, logger: Logger): Promise<Admission> {
  const now = clock(deps);
  const remainingMs = runAt === undefined ? 0 : Date.parse(runAt) - now.getTime();
  if (remainingMs <= 0) return 'run';
  if (!deps.ingestionChannel) throw new Error('a delayed job needs the ingestion queue to wait in (SQS_INGESTION_QUEUE_URL)');
  // Whole seconds, rounded up: a hop never arrives early.
  const delaySeconds = Math.min(deps.maxDelaySeconds ?? sqsMaxDelaySeconds, Math.ceil(remainingMs / 1000));
  const hop: JobRequest = {
    jobId: request.jobId,
    input: request.input,
    ...(request.kind ? { kind: request.kind } : {}),
    ...kindOptionsOf(request),
    runAt,
    ...(request.unique ? { unique: request.unique } : {}),
    ...(request.force !== undefined ? { force: request.force } : {}),
  };
  signal.throwIfAborted();
  await deps.publisher.publish(deps.ingestionChannel, hop, { delaySeconds });
  logger.info({ runAt, delaySeconds }, 'scheduled: waiting in the ingestion queue');
  return 'held';
}
