import type { Logger } from 'pino';
import { BadInputError, errorMessage } from '../contract/errors.js';
import type { ObjectStore, Versioned } from '../storage/object-store.js';
import { statusKey } from '../contract/job-keys.js';
import type { ObjectRef } from '../contract/job.js';
import type { StageName } from '../contract/stages.js';
import { JobStatus, type ErrorInfo, type JobIdentity, type StageStatus } from '../contract/status-document.js';
import { createdAtOf, type JobIndex } from './job-index.js';
import { applyTransition, type Transition } from './status-transitions.js';
import { retryWhileUnavailable, type Backoff } from './store-retry.js';


/**
 * The result of one status change. `changed` is false when the forward-only rules refused it (the
 * document already says as much or more); `status` is then the document as it stands. `becameFinal`
 * is true only for the one write that made the job final: its writer publishes the terminal event.
 */
export interface StatusWrite {
  status: JobStatus;
  changed: boolean;
  becameFinal: boolean;
  /** The document as this write left it, with its ETag: the same writer's next change need not read it again. */
  version?: Versioned<JobStatus>;
}

export interface JobStatusStoreOptions {
  now?: () => Date;
  /** Backoff while S3 is failing; tests shorten it. */
  backoff?: Backoff;
  logger?: Logger;
  /** The dashboard's job index, moved after each write that changed a job's state or kind (best effort). */
  index?: JobIndex;
}

/**
 * A jobId belongs to the input of whoever created its status.json first: a message naming the jobId
 * with another input is refused, and the existing job, its status and its outputs are left untouched.
 */
export class JobIdConflictError extends BadInputError {
  constructor(
    jobId: string,
    readonly existingInput: ObjectRef,
  ) {
    super('JOB_ID_CONFLICT', `The jobId ${jobId} already belongs to a job with another input. Send this input under a new jobId, or without one.`);
  }
}

const sameObject = (a: ObjectRef, b: ObjectRef): boolean => a.bucket === b.bucket && a.key === b.key;

/** Read-decide-write rounds lost to other writers before giving up: each loss means another writer progressed. */
const maxConflicts = 50;

/**
 * The one writer of status.json. Each change reads the document with its ETag, applies a forward-only
 * transition (status-transitions.ts) and writes the result with `If-Match` (`If-None-Match: *` for a
 * job's first write); when another writer got there first (412) it reads again and decides again.
 * That first write claims the jobId for its input: a change for the same jobId with another input
 * throws JobIdConflictError and writes nothing, so two racing requests cannot both own a job.
 * While S3 is failing a write waits and tries again until it succeeds or the caller's signal fires.
 * On a store that ignores conditional writes (see `honoursConditionalWrites`) the same code runs,
 * but two racing writers can then both win (a stage's end, written over the version its start wrote,
 * could then overwrite a redelivery's start made meanwhile).
 */
export class JobStatusStore {
  private readonly now: () => Date;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: JobStatusStoreOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  get(jobId: string, signal?: AbortSignal): Promise<JobStatus | undefined> {
    return this.store.getJson(statusKey(jobId), JobStatus, signal);
  }

  /**
   * `known`: the version this writer's previous change left (a stage's start, before its end). It stands
   * in for the first read; the write is conditional on its ETag all the same, so if anyone wrote since,
   * S3 refuses it and the document is read and judged again.
   */
  async apply(job: JobIdentity, transition: Transition, signal?: AbortSignal, known?: Versioned<JobStatus>): Promise<StatusWrite> {
    const key = statusKey(job.jobId);
    for (let conflicts = 0; conflicts < maxConflicts; conflicts++) {
      const current = conflicts === 0 && known ? known : await this.retrying(job, () => this.store.getJsonVersioned(key, JobStatus, signal), signal);
      if (current && !sameObject(current.value.input, job.input)) throw new JobIdConflictError(job.jobId, current.value.input);
      const now = this.now().toISOString();
      const result = applyTransition(current?.value, job, transition, now);
      if (!result.changed) {
        this.options.logger?.debug({ jobId: job.jobId, transition: transition.type, reason: result.reason }, 'status change not applied');
        return { status: result.status, changed: false, becameFinal: false };
      }
      // Where the job sorts in the dashboard's list: its first write's time, kept by every later one.
      const status = { ...result.status, createdAt: createdAtOf(current?.value, now) };
      const condition = current ? { ifMatch: current.etag } : ({ ifNoneMatch: '*' } as const);
      const written = await this.retrying(job, () => this.store.putJsonIf(key, status, condition, signal), signal);
      if (written) {
        await this.options.index?.changed(current?.value, status, signal);
        return { status, changed: true, becameFinal: result.becameFinal, ...(written.etag ? { version: { value: status, etag: written.etag } } : {}) };
      }
    }
    throw new Error(`status of job ${job.jobId}: lost ${maxConflicts} conditional writes in a row to other writers`);
  }

  /** Creates the job's document in `queued`; `changed` is false when the jobId already has one (another writer claimed it). */
  queued(job: JobIdentity, signal?: AbortSignal): Promise<StatusWrite> {
    return this.apply(job, { type: 'queued' }, signal);
  }

  /** Creates the job's document in `scheduled` with its runAt; unchanged when the job already exists. */
  scheduled(job: JobIdentity, runAt: string, signal?: AbortSignal): Promise<StatusWrite> {
    return this.apply(job, { type: 'scheduled', runAt }, signal);
  }

  /** Ends a scheduled job (`stageline cancel`); refused (changed false) for a job that is not scheduled. */
  cancelled(job: JobIdentity, signal?: AbortSignal): Promise<StatusWrite> {
    return this.apply(job, { type: 'cancelled' }, signal);
  }

  /** A failed job runs again (the dashboard's retry): it becomes queued; refused (changed false) for a job that is not failed. */
  retried(job: JobIdentity, signal?: AbortSignal): Promise<StatusWrite> {
    return this.apply(job, { type: 'retried' }, signal);
  }

  /** A unique request that created no job: its document names the job that covers it. */
  deduplicated(job: JobIdentity, duplicateOf: string, signal?: AbortSignal): Promise<StatusWrite> {
    return this.apply(job, { type: 'deduplicated', duplicateOf }, signal);
  }

  stageStarted(job: JobIdentity, stage: StageName, attempt: number, signal?: AbortSignal): Promise<StatusWrite> {
    return this.apply(job, { type: 'stage-started', stage, attempt }, signal);
  }

  /** `started`: the version the stage's start wrote, when this writer wrote it (saves a read). */
  stageSucceeded(job: JobIdentity, stage: StageName, attempt: number, outputs: Record<string, string>, last: boolean, signal?: AbortSignal, started?: Versioned<JobStatus>): Promise<StatusWrite> {
    return this.apply(job, { type: 'stage-succeeded', stage, attempt, outputs, last }, signal, started);
  }

  /** The attempt failed and the message will be delivered again (or dead-lettered, which the DLQ watcher records). */
  stageRetrying(job: JobIdentity, stage: StageName, attempt: number, error: ErrorInfo, signal?: AbortSignal): Promise<StatusWrite> {
    return this.apply(job, { type: 'stage-retrying', stage, attempt, error }, signal);
  }

  /** The job failed for good (bad input). */
  stageFailed(job: JobIdentity, stage: StageName, attempt: number, error: ErrorInfo, signal?: AbortSignal): Promise<StatusWrite> {
    return this.apply(job, { type: 'stage-failed', stage, attempt, error }, signal);
  }

  /**
   * How far a running attempt has come. Best effort: one try, no waiting while S3 fails, and a failure
   * is only logged — progress is news, the stage's end is what counts.
   */
  async stageProgress(job: JobIdentity, stage: StageName, attempt: number, progress: NonNullable<StageStatus['progress']>, signal?: AbortSignal): Promise<void> {
    const key = statusKey(job.jobId);
    try {
      const current = await this.store.getJsonVersioned(key, JobStatus, signal);
      if (!current || !sameObject(current.value.input, job.input)) return;
      const result = applyTransition(current.value, job, { type: 'stage-progress', stage, attempt, progress }, this.now().toISOString());
      if (result.changed) await this.store.putJsonIf(key, result.status, { ifMatch: current.etag }, signal);
    } catch (err) {
      this.options.logger?.debug({ jobId: job.jobId, stage, err: errorMessage(err) }, 'progress not written');
    }
  }

  /** The stage's message is in its dead-letter queue. */
  deadLettered(job: JobIdentity, stage: StageName, signal?: AbortSignal): Promise<StatusWrite> {
    return this.apply(job, { type: 'dead-lettered', stage }, signal);
  }

  private retrying<T>(job: JobIdentity, call: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    return retryWhileUnavailable(call, {
      ...(signal ? { signal } : {}),
      ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
      onRetry: (err, failures, waitMs) =>
        this.options.logger?.warn({ jobId: job.jobId, err: errorMessage(err), failures, waitMs }, 'status write failed: S3 is failing; trying again'),
    });
  }
}

/**
 * Start-up check: logs one warning when the store ignores conditional writes (then two racing writers
 * of one job can both win). Never stops the worker: a store that cannot be asked now is only logged.
 */
export async function checkConditionalWrites(store: ObjectStore, logger: Logger): Promise<boolean | undefined> {
  try {
    const honoured = await store.honoursConditionalWrites();
    if (!honoured) {
      logger.warn(
        { bucket: store.bucket },
        'this S3 store ignores conditional writes (If-Match, If-None-Match): exactly-once does not hold here — two workers racing on one job could both publish its terminal event, on one schedule tick both start it, on one unique key both run',
      );
    }
    return honoured;
  } catch (err) {
    logger.warn({ bucket: store.bucket, err: errorMessage(err) }, 'could not check whether this S3 store honours conditional writes');
    return undefined;
  }
}
