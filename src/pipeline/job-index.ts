import type { Logger } from 'pino';
import { errorMessage } from '../contract/errors.js';
import { jobIndexKeys, outputsPrefix, type JobIndexEntry } from '../contract/job-keys.js';
import type { JobStatus } from '../contract/status-document.js';
import { ObjectKeys } from '../storage/object-keys.js';
import { isFinal } from './status-transitions.js';
import type { ObjectStore } from '../storage/object-store.js';

/** The index entry of a job's document; none for a document written before documents had a createdAt. */
export function indexEntryOf(status: JobStatus): JobIndexEntry | undefined {
  if (!status.createdAt) return undefined;
  return { jobId: status.jobId, state: status.state, ...(status.kind ? { kind: status.kind } : {}), input: status.input, createdAt: status.createdAt };
}

/**
 * When a document was created: its own createdAt, else (a document from before createdAt existed) the
 * earliest time it records, else `now` for a document being created.
 */
export function createdAtOf(current: JobStatus | undefined, now: string): string {
  if (!current) return now;
  if (current.createdAt) return current.createdAt;
  const times = [current.updatedAt, ...Object.values(current.stages).flatMap((s) => (s?.startedAt ? [s.startedAt] : []))];
  return times.reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a));
}

export interface JobIndexOptions {
  logger?: Logger;
  /** The most one index update may take; past it the update is dropped (logged) and the listing's checks repair it. */
  timeoutMs?: number;
  /**
   * `changed` returns at once and the move runs behind the caller (the worker: a job's next message and
   * its event need not wait for the dashboard's list). One job's moves still run one after the other,
   * in the order of its status writes; a move still waiting when the job changes again is replaced by
   * one from the same old names to the newest (the entry it would have written is never written).
   * `settled` waits for all of them (the worker's stop).
   */
  background?: boolean;
  /**
   * Background mode: how long a move waits before it is made, so that a job that changes again within
   * it moves once. A job that runs from creation to success in well under a second then costs two index
   * writes instead of four writes and two deletes (bench:jobs). The dashboard shows a new or changed job
   * up to this much later (an ended one at once, see `changed`); a worker killed outright loses the
   * moves it held (those jobs are listed again at their next change of state, or their end, and
   * `stageline dashboard --reindex` rebuilds the index).
   */
  holdMs?: number;
}

interface QueuedMove {
  entry: JobIndexEntry;
  previous: readonly string[];
}

/**
 * Keeps the job index (docs/dashboard.md; key layout in contract/job-keys.ts) in step with status.json.
 * The status store calls `changed` after each write it made; only a change of state or kind moves an
 * entry: the new names are written first, then the old ones deleted, so a crash in between leaves a
 * job listed twice (the listing notices) rather than not at all. Best effort: S3 failing here is
 * logged, never fails the status write; the dashboard's listing checks what it cannot trust against
 * status.json and repairs the entry (`sync`), and `rebuild` derives the whole index from status.json.
 */
export class JobIndex {
  private readonly timeoutMs: number;
  /** Background mode: per job, the move running (its promise) and the one waiting behind it. */
  private readonly running = new Map<string, Promise<void>>();
  private readonly waiting = new Map<string, QueuedMove>();
  /** Background mode: the move being made now, per job. */
  private readonly moving = new Map<string, Promise<void>>();
  /** Background mode: the holds under way, each ended at once by `settled` (the worker's stop). */
  private readonly holds = new Set<() => void>();
  private flushing = false;

  constructor(
    readonly keys: ObjectKeys,
    private readonly options: JobIndexOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 3000;
  }

  static forStore(store: ObjectStore, options: JobIndexOptions = {}): JobIndex {
    return new JobIndex(new ObjectKeys(store.client, store.bucket), options);
  }

  /** After a status write: moves the job's entries when its state or kind changed. Never throws. */
  async changed(before: JobStatus | undefined, after: JobStatus, signal?: AbortSignal): Promise<void> {
    const entry = indexEntryOf(after);
    if (!entry) return;
    // A document from before createdAt existed may have entries from `rebuild`, named by the same earliest time.
    const previous = before ? indexEntryOf({ ...before, createdAt: createdAtOf(before, before.updatedAt) }) : undefined;
    const previousKeys = previous ? jobIndexKeys(previous) : [];
    if (!this.options.background) {
      await this.move(entry, previousKeys, signal);
      return;
    }
    if (isFinal(after)) {
      // A job's end is listed before its status write returns (so before its event): a move held for
      // it is taken over, and one being made is waited for.
      const queued = this.waiting.get(entry.jobId);
      this.waiting.delete(entry.jobId);
      await this.moving.get(entry.jobId);
      await this.move(entry, queued ? queued.previous : previousKeys, signal);
      return;
    }
    // Behind the caller: bounded by timeoutMs alone, since the caller's signal ends with its message.
    const queued = this.waiting.get(entry.jobId);
    if (queued) {
      queued.entry = entry;
      return;
    }
    this.waiting.set(entry.jobId, { entry, previous: previousKeys });
    if (!this.running.has(entry.jobId)) this.runMoves(entry.jobId);
  }

  /** Resolves when every move started in background mode so far (and those queued behind them) is done. */
  async settled(): Promise<void> {
    this.flushing = true;
    for (const end of this.holds) end();
    while (this.running.size > 0) await Promise.all(this.running.values());
  }

  private runMoves(jobId: string): void {
    const run = (async () => {
      for (;;) {
        await this.hold();
        const next = this.waiting.get(jobId);
        if (!next) return;
        this.waiting.delete(jobId);
        const moved = this.move(next.entry, next.previous, undefined);
        this.moving.set(jobId, moved);
        await moved.finally(() => this.moving.delete(jobId));
      }
    })().finally(() => {
      this.running.delete(jobId);
      // A change that came in after the loop's last look and before this: its move starts now.
      if (this.waiting.has(jobId)) this.runMoves(jobId);
    });
    this.running.set(jobId, run);
  }

  private hold(): Promise<void> {
    const ms = this.options.holdMs ?? 0;
    if (ms <= 0 || this.flushing) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.holds.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.holds.add(done);
    });
  }

  /** Makes the index say what `status` says, removing `stale` names of the same job (a listing's repair). Never throws. */
  async sync(status: JobStatus, stale: readonly string[], signal?: AbortSignal): Promise<void> {
    const entry = indexEntryOf(status);
    if (entry) await this.move(entry, stale, signal);
    else await this.bounded('remove stale entries', status.jobId, (s) => Promise.all(stale.map((k) => this.keys.delete(k, s))), signal);
  }

  /** Removes names whose job has no status.json any more. Never throws. */
  async drop(jobId: string, stale: readonly string[], signal?: AbortSignal): Promise<void> {
    await this.bounded('remove entries of a job without status', jobId, (s) => Promise.all(stale.map((k) => this.keys.delete(k, s))), signal);
  }

  /**
   * Writes every job's entries from its status.json (a LIST of the job folders, a GET per job, two PUTs
   * per job): for a bucket whose jobs predate the index, or after index writes were lost. Existing
   * entries of jobs that changed since are left for the listing's checks to repair.
   */
  async rebuild(readStatus: (jobId: string) => Promise<JobStatus | undefined>, options: { signal?: AbortSignal; concurrency?: number; onJob?: (jobId: string) => void } = {}): Promise<number> {
    let written = 0;
    const pending = new Set<Promise<void>>();
    for await (const folder of this.keys.folders(outputsPrefix, options.signal)) {
      const jobId = folder.slice(outputsPrefix.length, -1);
      if (jobId.startsWith('.')) continue;
      const task = (async () => {
        const status = await readStatus(jobId);
        const entry = status ? indexEntryOf({ ...status, createdAt: createdAtOf(status, status.updatedAt) }) : undefined;
        if (!entry) return;
        await Promise.all(jobIndexKeys(entry).map((k) => this.keys.put(k, options.signal)));
        written++;
        options.onJob?.(jobId);
      })();
      pending.add(task);
      void task.finally(() => pending.delete(task)).catch(() => undefined);
      if (pending.size >= (options.concurrency ?? 16)) await Promise.race(pending);
    }
    await Promise.all(pending);
    return written;
  }

  private async move(entry: JobIndexEntry, previous: readonly string[], signal: AbortSignal | undefined): Promise<void> {
    const next = jobIndexKeys(entry);
    const added = next.filter((k) => !previous.includes(k));
    const removed = previous.filter((k) => !next.includes(k));
    if (added.length === 0 && removed.length === 0) return;
    await this.bounded(
      'update the job index',
      entry.jobId,
      async (s) => {
        await Promise.all(added.map((k) => this.keys.put(k, s)));
        await Promise.all(removed.map((k) => this.keys.delete(k, s)));
      },
      signal,
    );
  }

  private async bounded(what: string, jobId: string, work: (signal: AbortSignal) => Promise<unknown>, signal: AbortSignal | undefined): Promise<void> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      await work(signal ? AbortSignal.any([signal, timeout]) : timeout);
    } catch (err) {
      this.options.logger?.warn({ jobId, err: errorMessage(err) }, `could not ${what}: the dashboard's list repairs it when it shows the job`);
    }
  }
}
