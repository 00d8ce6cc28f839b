import type { Logger } from 'pino';
import { errorMessage } from '../../contract/errors.js';
import type { JobRequest } from '../../contract/job.js';
import type { Schedule } from '../../contract/schedules.js';
import type { JobIdentity } from '../../contract/status-document.js';
import { abortableSleep, jitteredBackoff } from '../../queue/backoff.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { JobIdConflictError, type JobStatusStore } from '../job-status.js';
import { isFinal } from '../status-transitions.js';
import { advanceScheduleState, readScheduleState, type StateUpdate } from './schedule-state.js';
import { scheduleTicks, tickJobId, type Ticks } from './ticks.js';

/**
 * Runs the periodic schedules (contract section 7, docs/schedules.md). Every worker with the file runs
 * every schedule; there is no leader. Each tick's job is claimed by creating its status.json
 * (`If-None-Match: *`, through JobStatusStore.queued): the one replica whose create succeeds sends the
 * job request, every other finds the document there and sends nothing. A restart cannot fire a tick
 * twice for the same reason.
 *
 * A tick fires when a replica gets to it within `lateToleranceMs` (a minute) of its time. A tick no
 * replica got to by then — no worker ran, the process was suspended, S3 or SQS kept failing — is
 * missed, and the schedule's catchUp decides (within catchUpWindowSeconds): none, the latest, or all.
 * At start-up the missed ticks are those since the record's lastTick.
 *
 * A failing call never ends the loop: the pass is logged and tried again after a growing pause, the
 * unfired ticks still pending. A tick whose claim succeeded is this replica's job to send: it is sent
 * again until SQS takes it, whatever its age, for as long as the process runs (a duplicate send is
 * the same job: the pipeline treats it as SQS's at-least-once delivery).
 */

export interface SchedulerOptions {
  schedules: readonly Schedule[];
  /** Where the schedules' records live (scheduleStateKey). */
  store: ObjectStore;
  /** Claims ticks and answers the overlap check. */
  statuses: Pick<JobStatusStore, 'queued' | 'get'>;
  /** Sends a job request to the ingestion queue. */
  send: (request: JobRequest) => Promise<void>;
  /** The input bucket of a schedule's job that names none (S3_BUCKET). */
  defaultBucket: string;
  logger: Logger;
  now?: () => Date;
  /** Resolves after `ms`, or early when `signal` aborts; never rejects. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** How late a tick may be fired before it counts as missed. */
  lateToleranceMs?: number;
  /** Pause after a failed pass: attempt n waits between half and all of min(cap, base * 2^n). */
  retry?: { baseMs: number; capMs: number };
  /** On stop, how long a tick being claimed and sent may take to finish before it is cut off. */
  stopGraceMs?: number;
}

export interface Scheduler {
  /** Stops waiting for ticks, lets a tick under way finish (stopGraceMs), then cuts the rest off. */
  stop(): Promise<void>;
}

const defaultLateToleranceMs = 60_000;
/** The longest single sleep: a far tick is approached in steps, so a wall-clock change or a suspend is noticed. */
const maxSleepMs = 60_000;

export function startScheduler(options: SchedulerOptions): Scheduler {
  const waiting = new AbortController();
  const working = new AbortController();
  const runs = options.schedules.map((schedule) => new ScheduleRunner(schedule, options).run(waiting.signal, working.signal));
  let stopping: Promise<void> | undefined;
  const stop = async () => {
    waiting.abort(new Error('scheduler stopping'));
    const all = Promise.all(runs);
    const grace = new Promise<void>((resolve) => setTimeout(resolve, options.stopGraceMs ?? 3000).unref());
    await Promise.race([all, grace]);
    working.abort(new Error('scheduler stopped'));
    await all;
  };
  options.logger.info({ schedules: options.schedules.map((s) => s.name) }, 'schedules started');
  return { stop: () => (stopping ??= stop()) };
}

interface PendingTick {
  at: Date;
  jobId: string;
  /** Its job is claimed (status.json created by this replica): it must be sent, however late. */
  claimed: boolean;
}

class ScheduleRunner {
  private readonly ticks: Ticks;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly startedAt: number;
  /** Every tick up to here has been taken into `pending` (or was before this replica started). */
  private cursor: number;
  private pending: PendingTick[] = [];
  private caughtUp = false;
  private failures = 0;
  /** The last job this replica made: the overlap check asks about it even when the record lags. */
  private lastJobId: string | undefined;

  constructor(
    private readonly schedule: Schedule,
    private readonly options: SchedulerOptions,
  ) {
    this.ticks = scheduleTicks(schedule.cron, schedule.timezone);
    this.logger = options.logger.child({ component: 'scheduler', schedule: schedule.name });
    this.now = options.now ?? (() => new Date());
    this.sleep = options.sleep ?? abortableSleep;
    this.startedAt = this.now().getTime();
    this.cursor = this.startedAt;
  }

  async run(waiting: AbortSignal, working: AbortSignal): Promise<void> {
    while (!waiting.aborted) {
      let waitMs: number;
      try {
        await this.pass(working);
        this.failures = 0;
        waitMs = this.msToNextTick();
      } catch (err) {
        if (working.aborted) return;
        this.failures += 1;
        const retry = this.options.retry ?? { baseMs: 1000, capMs: 30_000 };
        waitMs = jitteredBackoff(this.failures - 1, retry.baseMs, retry.capMs);
        this.logger.warn({ err: errorMessage(err), failures: this.failures, retryInMs: waitMs, pending: this.pending.length }, 'schedule pass failed; trying again');
      }
      await this.sleep(Math.min(waitMs, maxSleepMs), waiting);
    }
  }

  /** Takes in the ticks that came due, then fires what the rules keep of them, oldest first. */
  private async pass(signal: AbortSignal): Promise<void> {
    const now = this.now();
    if (now.getTime() > this.cursor) {
      this.pending.push(...this.ticks.between(new Date(this.cursor), now).map((at) => this.tick(at)));
      this.cursor = now.getTime();
    }
    if (!this.caughtUp) {
      await this.takeMissedSinceLastRun(signal);
      this.caughtUp = true;
    }
    this.pending = this.keep(this.pending, now.getTime());
    while (this.pending[0]) {
      await this.fire(this.pending[0], signal);
      this.pending.shift();
    }
  }

  /** At start-up: the ticks between the record's lastTick and this replica's start, within the window. */
  private async takeMissedSinceLastRun(signal: AbortSignal): Promise<void> {
    const state = await readScheduleState(this.options.store, this.schedule.name, signal);
    // No record: the schedule has never fired (or is new), so nothing was missed.
    if (!state) return;
    const from = Math.max(Date.parse(state.lastTick), this.startedAt - this.schedule.catchUpWindowSeconds * 1000);
    if (from >= this.startedAt) return;
    const missed = this.ticks.between(new Date(from), new Date(this.startedAt)).map((at) => this.tick(at));
    if (missed.length > 0) this.logger.info({ since: state.lastTick, missed: missed.length, catchUp: this.schedule.catchUp }, 'ticks passed while no worker of this schedule ran here');
    this.pending = [...missed, ...this.pending];
  }

  /** Ticks on time, claimed ones, and what the catch-up policy keeps of the missed ones. */
  private keep(pending: PendingTick[], now: number): PendingTick[] {
    const tolerance = this.options.lateToleranceMs ?? defaultLateToleranceMs;
    const windowMs = this.schedule.catchUpWindowSeconds * 1000;
    const isMissed = (t: PendingTick) => !t.claimed && now - t.at.getTime() > tolerance;
    const missed = pending.filter(isMissed);
    if (missed.length === 0) return pending;
    const inWindow = missed.filter((t) => now - t.at.getTime() <= windowMs);
    const kept = new Set(this.schedule.catchUp === 'all' ? inWindow : this.schedule.catchUp === 'latest' ? inWindow.slice(-1) : []);
    const dropped = missed.filter((t) => !kept.has(t));
    if (dropped.length > 0) {
      this.logger.warn(
        { missed: missed.length, dropped: dropped.length, catchUp: this.schedule.catchUp, first: dropped[0]?.at.toISOString(), last: dropped.at(-1)?.at.toISOString() },
        'ticks missed (no worker got to them within a minute): not fired, by the catchUp policy',
      );
    }
    return pending.filter((t) => !isMissed(t) || kept.has(t));
  }

  private async fire(tick: PendingTick, signal: AbortSignal): Promise<void> {
    const { job } = this.schedule;
    const input = { bucket: job.input.bucket ?? this.options.defaultBucket, key: job.input.key };
    const logger = this.logger.child({ tick: tick.at.toISOString(), jobId: tick.jobId });
    if (!tick.claimed) {
      if (this.schedule.overlap === 'skip') {
        const active = await this.activeJob(signal);
        if (active) {
          logger.info({ active: active.jobId, state: active.state }, 'tick skipped: the previous run is still active (overlap: skip)');
          await this.record({ tick: tick.at }, signal);
          return;
        }
      }
      const identity: JobIdentity = { jobId: tick.jobId, input, ...(job.kind ? { kind: job.kind } : {}) };
      if (!(await this.claim(identity, logger, signal))) {
        await this.record({ tick: tick.at }, signal);
        return;
      }
      tick.claimed = true;
    }
    await this.options.send({ ...job, jobId: tick.jobId, input });
    this.lastJobId = tick.jobId;
    logger.info('tick fired: job sent to the ingestion queue');
    await this.record({ tick: tick.at, jobId: tick.jobId }, signal);
  }

  /** Creates the tick's status.json; false when another replica (or an earlier run of this one) already did. */
  private async claim(job: JobIdentity, logger: Logger, signal: AbortSignal): Promise<boolean> {
    try {
      const { changed, status } = await this.options.statuses.queued(job, signal);
      if (!changed) logger.debug({ state: status.state }, 'tick already claimed');
      return changed;
    } catch (err) {
      // The jobId has a job with another input: a replica with another version of the file claimed it.
      if (err instanceof JobIdConflictError) {
        logger.warn('tick claimed with another input (the schedules file differs between workers?)');
        return false;
      }
      throw err;
    }
  }

  /** The schedule's previous job when it is still scheduled, queued or running. */
  private async activeJob(signal: AbortSignal): Promise<{ jobId: string; state: string } | undefined> {
    const state = await readScheduleState(this.options.store, this.schedule.name, signal);
    const candidates = new Set([state?.lastJobId, this.lastJobId].filter((id): id is string => id !== undefined));
    for (const jobId of candidates) {
      const status = await this.options.statuses.get(jobId, signal);
      if (status && !isFinal(status)) return { jobId, state: status.state };
    }
    return undefined;
  }

  /** Best effort: the record only steers catch-up and overlap; the claim is what makes a tick fire once. */
  private async record(update: StateUpdate, signal: AbortSignal): Promise<void> {
    try {
      if (!(await advanceScheduleState(this.options.store, this.schedule.name, update, this.now(), signal))) {
        this.logger.warn('schedule record not updated: other writers kept replacing it');
      }
    } catch (err) {
      if (signal.aborted) throw err;
      this.logger.warn({ err: errorMessage(err) }, 'schedule record not updated');
    }
  }

  private msToNextTick(): number {
    const next = this.ticks.next(new Date(this.cursor));
    return next === undefined ? maxSleepMs : Math.max(0, next.getTime() - this.now().getTime());
  }

  private tick(at: Date): PendingTick {
    return { at, jobId: tickJobId(this.schedule.name, at), claimed: false };
  }
}
