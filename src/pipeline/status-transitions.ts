import type { ErrorInfo, JobIdentity, JobStatus, StageStatus } from '../contract/status-document.js';
import { stageNames, type StageName } from '../contract/stages.js';

/**
 * The forward-only rules of a job's status (contract section 5), as pure functions of the document
 * read and the change asked for. Every writer of status.json goes through `applyTransition`, then
 * writes the result conditionally over the version it read, so two writers of one job (a redelivery
 * racing a slow worker, two DLQ watchers) can never move it backwards.
 *
 * - A job in a final state (succeeded, failed, cancelled) stays as it is: a transition that would
 *   change it is refused. One exception: a job failed with `DEAD_LETTERED` is reopened by the next
 *   stage start (a redrive, `stageline dlq STAGE --redrive`): the dead-lettered stage's record is
 *   dropped, so that stage's attempts count again from the redriven message's receive count (a new
 *   attempt history), and the job runs (and ends, with its own terminal event) once more.
 * - Within a stage: `succeeded` and `failed` are final; `running` and `retrying` belong to an attempt
 *   (the message's receive count) and only a later attempt replaces them. `succeeded` wins from any
 *   attempt: the work was done.
 * - Across stages: once a later stage has a record, an earlier stage can only be marked succeeded.
 * - `retried` (the dashboard's retry) reopens a `failed` job, whatever failed it: it becomes `queued`,
 *   its error and its failed stage's record are dropped as a redrive drops them (a new attempt history
 *   for that stage), the stages it had passed keep their records, and it runs (and ends, with its own
 *   terminal event) once more. Any other state refuses it.
 * - Before any stage: `queued`, `scheduled` and `deduplicated` only create a document (the first
 *   writer of a jobId wins; a periodic tick is claimed that way); `cancelled` only ends a `scheduled`
 *   job, and the first stage start moves a scheduled job to running.
 */

export type Transition =
  /** A request accepted to run now: creates the document (a periodic tick claims its jobId with it). */
  | { type: 'queued' }
  /** A delayed request accepted: creates the document in `scheduled` with its runAt (contract section 7). */
  | { type: 'scheduled'; runAt: string }
  /** `stageline cancel`: only a scheduled job. */
  | { type: 'cancelled' }
  /** The dashboard's retry: only a failed job, which becomes queued to run again. */
  | { type: 'retried' }
  /** A unique request that created no job: its own document names the job that covers it; final. */
  | { type: 'deduplicated'; duplicateOf: string }
  | { type: 'stage-started'; stage: StageName; attempt: number }
  | { type: 'stage-succeeded'; stage: StageName; attempt: number; outputs: Record<string, string>; last: boolean }
  /** The attempt failed and the message will come back (or go to the DLQ, where the watcher records it). */
  | { type: 'stage-retrying'; stage: StageName; attempt: number; error: ErrorInfo }
  /** The job failed for good (bad input). */
  | { type: 'stage-failed'; stage: StageName; attempt: number; error: ErrorInfo }
  /** The stage's message is in its dead-letter queue (recorded by the DLQ watcher). */
  | { type: 'dead-lettered'; stage: StageName }
  /** How far the running attempt has come; the attempt's end replaces it. */
  | { type: 'stage-progress'; stage: StageName; attempt: number; progress: NonNullable<StageStatus['progress']> };

export type TransitionResult =
  | { changed: true; status: JobStatus; becameFinal: boolean }
  /** Refused: `status` is the document as it stands (for a job's first write, the one it would start from). */
  | { changed: false; status: JobStatus; reason: string };

const deadLetteredCode = 'DEAD_LETTERED';

const finalJobStates: ReadonlySet<JobStatus['state']> = new Set(['succeeded', 'failed', 'cancelled']);

export function isFinal(status: Pick<JobStatus, 'state'>): boolean {
  return finalJobStates.has(status.state);
}

/** A dead-lettered job may be redriven: the one final state a stage start reopens. */
export function isDeadLettered(status: Pick<JobStatus, 'state' | 'error'>): boolean {
  return status.state === 'failed' && status.error?.code === deadLetteredCode;
}

/** The document a job's first write starts from. */
function initialStatus(job: JobIdentity, now: string): JobStatus {
  return { jobId: job.jobId, state: 'queued', input: job.input, stages: {}, outputs: {}, updatedAt: now };
}

/**
 * The document after `transition`, or why it stays as it is. Never mutates `current`. `becameFinal`
 * is true for the one write that moved the job into a final state: its writer publishes the terminal event.
 */
export function applyTransition(current: JobStatus | undefined, job: JobIdentity, transition: Transition, now: string): TransitionResult {
  const before = current ?? initialStatus(job, now);
  // A retry is judged by `change`, which says why a job that is not failed cannot be retried.
  if (isFinal(before) && transition.type !== 'retried' && !(transition.type === 'stage-started' && isDeadLettered(before))) {
    return { changed: false, status: before, reason: `the job is already ${before.state}` };
  }
  const next = structuredClone(before);
  if (transition.type === 'stage-started' && isDeadLettered(before)) reopen(next);
  const refusal = change(next, transition, now, current === undefined);
  if (refusal !== undefined) return { changed: false, status: before, reason: refusal };
  if (job.kind && !next.kind) next.kind = job.kind;
  next.updatedAt = now;
  return { changed: true, status: next, becameFinal: isFinal(next) };
}

/** Applies the transition to `s` in place, or returns why it must not. */
function change(s: JobStatus, t: Transition, now: string, fresh: boolean): string | undefined {
  switch (t.type) {
    case 'queued':
      return fresh ? undefined : `the job already exists (${s.state})`;
    case 'scheduled':
      if (!fresh) return s.state === 'scheduled' ? `the job is already scheduled for ${s.runAt ?? 'later'}` : `the job is already ${s.state}`;
      s.state = 'scheduled';
      s.runAt = t.runAt;
      return undefined;
    case 'cancelled':
      if (s.state !== 'scheduled') return fresh ? 'there is no such job' : `the job is ${s.state}: only a scheduled job can be cancelled`;
      s.state = 'cancelled';
      return undefined;
    case 'retried':
      if (s.state !== 'failed') return fresh ? 'there is no such job' : `the job is ${s.state}: only a failed job can be retried`;
      reopen(s);
      s.state = 'queued';
      return undefined;
    case 'deduplicated':
      // A schedule's tick creates its job `queued` before the request is admitted: it may still be a duplicate.
      if (!fresh && !(s.state === 'queued' && Object.keys(s.stages).length === 0)) return `the job already exists (${s.state})`;
      s.state = 'cancelled';
      s.duplicateOf = t.duplicateOf;
      return undefined;
    default:
      return stageChange(s, t, now);
  }
}

type StageTransition = Extract<Transition, { stage: StageName }>;

function stageChange(s: JobStatus, t: StageTransition, now: string): string | undefined {
  const record = s.stages[t.stage];
  switch (t.type) {
    case 'stage-started': {
      if (record?.state === 'succeeded') return `the ${t.stage} stage already succeeded`;
      if (laterStageStarted(s, t.stage)) return `the job has moved past the ${t.stage} stage`;
      if (record && record.attempts >= t.attempt) return `attempt ${record.attempts} of the ${t.stage} stage is already recorded`;
      // The previous attempt's error stays until the stage ends: if this attempt dies without a word,
      // it is the last known error.
      s.stages[t.stage] = { state: 'running', attempts: t.attempt, startedAt: now, ...(record?.error ? { error: record.error } : {}) };
      s.state = 'running';
      return undefined;
    }
    case 'stage-succeeded': {
      if (record?.state === 'succeeded') return `the ${t.stage} stage already succeeded`;
      const startedAt = record?.startedAt ?? now;
      s.stages[t.stage] = {
        state: 'succeeded',
        attempts: Math.max(t.attempt, record?.attempts ?? 0),
        startedAt,
        finishedAt: now,
        durationMs: elapsed(startedAt, now),
      };
      s.outputs = { ...s.outputs, ...t.outputs };
      s.state = t.last ? 'succeeded' : 'running';
      return undefined;
    }
    case 'stage-retrying':
    case 'stage-failed': {
      const stale = staleAttempt(s, t.stage, record, t.attempt);
      if (stale) return stale;
      if (t.type === 'stage-retrying' && record?.state === 'retrying' && record.attempts === t.attempt) {
        return `attempt ${t.attempt} of the ${t.stage} stage is already recorded as retrying`;
      }
      const startedAt = record?.startedAt ?? now;
      const final = t.type === 'stage-failed';
      s.stages[t.stage] = {
        state: final ? 'failed' : 'retrying',
        attempts: t.attempt,
        startedAt,
        finishedAt: now,
        durationMs: elapsed(startedAt, now),
        error: t.error,
      };
      if (final) fail(s, t.stage, t.error);
      return undefined;
    }
    case 'stage-progress': {
      if (record?.state !== 'running' || record.attempts !== t.attempt) return `attempt ${t.attempt} of the ${t.stage} stage is not the one running`;
      s.stages[t.stage] = { ...record, progress: t.progress };
      return undefined;
    }
    case 'dead-lettered': {
      if (record?.state === 'succeeded') return `the ${t.stage} stage already succeeded: the dead-lettered message is a leftover copy`;
      if (laterStageStarted(s, t.stage)) return `the job has moved past the ${t.stage} stage: the dead-lettered message is a leftover copy`;
      const error = { code: deadLetteredCode, message: deadLetterMessage(t.stage, record) };
      s.stages[t.stage] = { ...(record ?? { attempts: 0 }), state: 'failed', finishedAt: now, error };
      fail(s, t.stage, error);
      return undefined;
    }
  }
}

/** Why an attempt's failure must not be written over what the document already says, if it must not. */
function staleAttempt(s: JobStatus, stage: StageName, record: StageStatus | undefined, attempt: number): string | undefined {
  if (record?.state === 'succeeded') return `the ${stage} stage already succeeded`;
  if (laterStageStarted(s, stage)) return `the job has moved past the ${stage} stage`;
  if (record && record.attempts > attempt) return `attempt ${record.attempts} of the ${stage} stage is newer than attempt ${attempt}`;
  return undefined;
}

function fail(s: JobStatus, stage: StageName, error: ErrorInfo): void {
  s.state = 'failed';
  s.error = { ...error, stage };
}

function reopen(s: JobStatus): void {
  const stage = s.error?.stage;
  if (stage) delete s.stages[stage];
  delete s.error;
  s.state = 'running';
}

function laterStageStarted(s: JobStatus, stage: StageName): boolean {
  return stageNames.slice(stageNames.indexOf(stage) + 1).some((later) => s.stages[later] !== undefined);
}

/**
 * What a person reads for a dead-lettered stage: how many attempts, the last known error, and what to
 * do. A stage still `running` means the last attempt ended without a word: the process died.
 */
function deadLetterMessage(stage: StageName, record: StageStatus | undefined): string {
  const redrive = `Fix the cause, then run \`stageline dlq ${stage} --redrive\`.`;
  const where = `the message is in the ${stage} dead-letter queue`;
  if (!record) {
    return `Gave up: ${where} and no attempt was ever recorded: the worker stopped on every attempt (crash, out of memory or kill). ${redrive}`;
  }
  const attempts = `Gave up after ${record.attempts} attempt${record.attempts === 1 ? '' : 's'}; ${where}.`;
  if (record.state === 'running') {
    const why = record.error
      ? `The last attempt ended without an outcome (the worker stopped: crash, out of memory or kill); the error before it: ${record.error.code}: ${record.error.message}`
      : 'No attempt recorded an error: the worker stopped on every attempt (crash, out of memory or kill).';
    return `${attempts} ${why} ${redrive}`;
  }
  const last = record.error ? `Last error: ${record.error.code}: ${record.error.message}` : 'No error was recorded.';
  return `${attempts} ${last} ${redrive}`;
}

function elapsed(from: string | undefined, to: string): number {
  return from ? Math.max(0, Date.parse(to) - Date.parse(from)) : 0;
}
