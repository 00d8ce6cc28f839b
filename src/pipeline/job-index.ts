import type { Logger } from 'pino';
import { errorMessage } from '../contract/errors.js';
import { jobIndexKeys, outputsPrefix, type JobIndexEntry } from '../contract/job-keys.js';
import type { JobStatus } from '../contract/status-document.js';
import { ObjectKeys } from '../storage/object-keys.js';
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
    await this.move(entry, previous ? jobIndexKeys(previous) : [], signal);
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
