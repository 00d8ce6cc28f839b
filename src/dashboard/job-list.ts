import type { Logger } from 'pino';
import type { JobListItem, JobsPage, JobsQuery } from '../contract/dashboard-api.js';
import { errorMessage } from '../contract/errors.js';
import { jobIndexAfter, jobIndexKey, jobIndexKeys, jobIndexScope, parseJobIndexKey, type JobIndexEntry } from '../contract/job-keys.js';
import type { JobStatus } from '../contract/status-document.js';
import { indexEntryOf, type JobIndex } from '../pipeline/job-index.js';
import type { JobStatusStore } from '../pipeline/job-status.js';
import { isFinal } from '../pipeline/status-transitions.js';

export interface JobListOptions {
  index: JobIndex;
  /** Where an entry that may be stale is checked. */
  statuses: Pick<JobStatusStore, 'get'>;
  logger?: Logger;
  now?: () => number;
  /** LIST requests one page may make (1,000 names each) before it answers with what it found and a cursor. */
  maxListsPerPage?: number;
  /** How long an entry checked against status.json is trusted. */
  trustMs?: number;
}

/** A cursor that is not one this listing gave out for this filter: the client's mistake (400). */
export class CursorError extends Error {}

type Entry = JobIndexEntry & { keyComplete: boolean; name: string };

const defaultLimit = 50;
const checkConcurrency = 16;
const rememberChecks = 20_000;

/**
 * `GET /api/jobs` from the job index: a page is one LIST (or a few, when a kind or search filters
 * most entries out), newest first, without reading status.json for what the index can be trusted
 * with. It is not trusted, and status.json is read (and the index repaired from it), where a lost
 * index write could hide: a job listed twice (a crash between writing its new entry and deleting the
 * old one), an entry in a state that is not final (its final write's index update may have been
 * lost; checked again after `trustMs`), or an input key too long for the name. A state filter lists
 * that state's own prefix, so a page of rare failures costs what a page of everything does.
 */
export class JobList {
  private readonly checked = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: JobListOptions) {
    this.now = options.now ?? Date.now;
  }

  async page(query: JobsQuery, signal?: AbortSignal): Promise<JobsPage> {
    const scope = jobIndexScope(query.state);
    const limit = query.limit ?? defaultLimit;
    const q = query.q?.trim().toLowerCase() || undefined;
    const narrowed = query.kind !== undefined || q !== undefined;
    let startAfter = query.cursor === undefined ? undefined : decodeCursor(query.cursor, scope);
    const picked: Entry[][] = [];
    /** The last job of a truncated LIST: its entries may go on in the next one. */
    let carry: Entry[] = [];
    let exhausted = false;
    let leftover = false;
    /** Where the next page starts: after the last job this one considered. */
    let resume: string | undefined;
    for (let lists = 0; picked.length < limit && !exhausted && lists < (this.options.maxListsPerPage ?? 10); lists++) {
      // Unfiltered, a page is one LIST a little longer than the page: a job listed twice sits side by side.
      const listed = await this.options.index.keys.list(scope, { ...(startAfter ? { startAfter } : {}), maxKeys: narrowed ? 1000 : limit + 10, signal });
      exhausted = !listed.truncated;
      startAfter = listed.keys.at(-1) ?? startAfter;
      const entries = listed.keys.flatMap((name) => {
        const parsed = parseJobIndexKey(scope, name);
        return parsed ? [{ ...parsed, name }] : [];
      });
      const groups = groupByJob([...carry, ...entries]);
      carry = exhausted ? [] : (groups.pop() ?? []);
      for (const [i, group] of groups.entries()) {
        if (picked.length >= limit) {
          leftover = i < groups.length;
          break;
        }
        resume = jobIndexAfter(scope, group[0]!);
        if (mayMatch(group, query.kind, q)) picked.push(group);
      }
    }
    const more = leftover || carry.length > 0 || !exhausted;
    const rows = await this.checkAll(picked, query, q, signal);
    const at = resume ?? startAfter;
    return { jobs: rows, nextCursor: more && at ? encodeCursor(at) : null };
  }

  /** The rows of the picked jobs, each checked against status.json where the index could be stale. */
  private async checkAll(groups: Entry[][], query: JobsQuery, q: string | undefined, signal: AbortSignal | undefined): Promise<JobListItem[]> {
    const rows: (JobListItem | undefined)[] = new Array(groups.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < groups.length; i = next++) rows[i] = await this.row(groups[i]!, query, q, signal);
    };
    await Promise.all(Array.from({ length: Math.min(checkConcurrency, groups.length) }, worker));
    return rows.filter((r): r is JobListItem => r !== undefined);
  }

  private async row(group: Entry[], query: JobsQuery, q: string | undefined, signal: AbortSignal | undefined): Promise<JobListItem | undefined> {
    const only = group.length === 1 ? group[0]! : undefined;
    if (only && only.keyComplete && (isFinal({ state: only.state as JobStatus['state'] }) || this.trusted(only.name))) {
      return matches(only, query.kind, q) ? item(only) : undefined;
    }
    const jobId = group[0]!.jobId;
    let status: JobStatus | undefined;
    try {
      status = await this.options.statuses.get(jobId, signal);
    } catch (err) {
      // status.json unreadable now: show what the index says rather than hide the job.
      this.options.logger?.warn({ jobId, err: errorMessage(err) }, 'could not check a job list entry against status.json');
      const shown = group.find((e) => e.keyComplete) ?? group[0]!;
      return matches(shown, query.kind, q) ? item(shown) : undefined;
    }
    const stale = group.flatMap((e) => jobIndexKeys(e));
    if (!status) {
      void this.options.index.drop(jobId, stale, signal);
      return undefined;
    }
    const truth = indexEntryOf(status) ?? { jobId, state: status.state, ...(status.kind ? { kind: status.kind } : {}), input: status.input, createdAt: group[0]!.createdAt };
    const wanted = new Set(jobIndexKeys(truth));
    if (group.length !== 1 || !wanted.has(group[0]!.name)) {
      this.options.logger?.info({ jobId, listed: group.map((e) => e.state), state: status.state }, 'job index entry was stale: repaired from status.json');
      void this.options.index.sync(status, stale.filter((k) => !wanted.has(k)), signal);
    } else {
      this.remember(group[0]!.name);
    }
    const row: Entry = { ...truth, keyComplete: true, name: jobIndexKey(jobIndexScope(query.state), truth) };
    if (query.state !== undefined && status.state !== query.state) return undefined;
    return matches(row, query.kind, q) ? item(row) : undefined;
  }

  private trusted(name: string): boolean {
    const at = this.checked.get(name);
    return at !== undefined && this.now() - at < (this.options.trustMs ?? 60_000);
  }

  private remember(name: string): void {
    this.checked.delete(name);
    this.checked.set(name, this.now());
    if (this.checked.size > rememberChecks) this.checked.delete(this.checked.keys().next().value!);
  }
}

/** Consecutive entries of one job (same creation time and jobId) together, in listing order. */
function groupByJob(entries: Entry[]): Entry[][] {
  const groups: Entry[][] = [];
  for (const e of entries) {
    const last = groups.at(-1);
    if (last && last[0]!.jobId === e.jobId && last[0]!.createdAt === e.createdAt) last.push(e);
    else groups.push([e]);
  }
  return groups;
}

/** Whether any entry of the job may match: an incomplete key is checked against status.json later. */
function mayMatch(group: Entry[], kind: string | undefined, q: string | undefined): boolean {
  return group.some((e) => matches(e, kind, q) || (!e.keyComplete && (kind === undefined || e.kind === kind)));
}

function matches(e: JobIndexEntry, kind: string | undefined, q: string | undefined): boolean {
  if (kind !== undefined && e.kind !== kind) return false;
  return q === undefined || e.jobId.toLowerCase().includes(q) || e.input.key.toLowerCase().includes(q);
}

function item(e: JobIndexEntry): JobListItem {
  return {
    jobId: e.jobId,
    state: e.state as JobListItem['state'],
    ...(e.kind ? { kind: e.kind as NonNullable<JobListItem['kind']> } : {}),
    input: e.input,
    createdAt: e.createdAt,
  };
}

/** Opaque to clients: where the listing resumes, held to the scope it was given for. */
function encodeCursor(startAfter: string): string {
  return Buffer.from(startAfter, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, scope: string): string {
  const startAfter = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!startAfter.startsWith(scope) || encodeCursor(startAfter) !== cursor) {
    throw new CursorError('cursor: not a cursor this listing gave out for these filters (start again without one)');
  }
  return startAfter;
}
