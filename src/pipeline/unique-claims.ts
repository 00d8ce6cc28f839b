import { createHash } from 'node:crypto';
import { z } from 'zod';
import { uniqueClaimKey } from '../contract/job-keys.js';
import { JobId, UniqueFor, type JobKind, type KindOptionsByKind, type ObjectRef } from '../contract/job.js';
import type { JobStatus } from '../contract/status-document.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { JobStatusStore } from './job-status.js';

/** `jobs/.stageline/unique/<sha256 of the key>.json`: which job holds a unique key, and for how long after it succeeds. */
const UniqueClaim = z.object({ key: z.string(), jobId: JobId, for: UniqueFor.optional(), claimedAt: z.string() });
type UniqueClaim = z.infer<typeof UniqueClaim>;

export type ClaimResult = { claimed: true } | { claimed: false; duplicateOf: string };

/**
 * A claim whose job has no status.json yet is held this long: its claimer is between its two writes,
 * or crashed there and its message will come back (the claim is then its own again). Past it, the claim
 * is abandoned.
 */
const unconfirmedClaimMs = 15 * 60_000;

/** Takeover rounds lost to other requests before giving up (each loss means another request moved on). */
const maxRounds = 10;

/**
 * The default unique key (contract section 7): the input object's bucket, key and ETag (its content)
 * and what the job would do with it (kind and options, key order ignored).
 */
export function defaultUniqueKey(input: ObjectRef, etag: string, kind: JobKind | undefined, options: KindOptionsByKind): string {
  return `input ${stableJson([input.bucket, input.key, etag.replaceAll('"', ''), kind ?? null, options])}`;
}

/**
 * Whether the claim still makes a new request with its key a duplicate: while its job is scheduled,
 * queued or running, and after it succeeded for the claim's `for`; never after it failed or was cancelled.
 */
export function claimHeld(claim: Pick<UniqueClaim, 'for' | 'claimedAt'>, holder: JobStatus | undefined, now: Date): boolean {
  if (!holder) return now.getTime() - Date.parse(claim.claimedAt) < unconfirmedClaimMs;
  switch (holder.state) {
    case 'scheduled':
    case 'queued':
    case 'running':
      return true;
    case 'failed':
    case 'cancelled':
      return false;
    case 'succeeded':
      if (claim.for === undefined) return false;
      if (claim.for === 'forever') return true;
      // A final document is not written again: its updatedAt is when the job succeeded.
      return now.getTime() < Date.parse(holder.updatedAt) + claim.for * 1000;
  }
}

/**
 * Unique keys, each claimed by one job with a conditional create (`If-None-Match: *`); a claim that no
 * longer holds (its job ended) is taken over with `If-Match` on the ETag read, so of any number of
 * racing requests exactly one wins. Claims are not deleted when a job ends: the next request reads the
 * holder's status and decides, so nothing depends on a release that a crash could skip.
 * The claim is read before it is created, so that on a store that ignores conditional writes (the
 * worker warns at start-up) requests that do not race are still deduplicated.
 */
export class UniqueClaims {
  constructor(
    private readonly store: Pick<ObjectStore, 'getJsonVersioned' | 'putJsonIf'>,
    private readonly statuses: Pick<JobStatusStore, 'get'>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async claim(key: string, jobId: string, holdFor: UniqueFor | undefined, signal?: AbortSignal): Promise<ClaimResult> {
    const claimKey = uniqueClaimKey(createHash('sha256').update(key).digest('hex'));
    for (let round = 0; round < maxRounds; round++) {
      const mine: UniqueClaim = { key, jobId, ...(holdFor !== undefined ? { for: holdFor } : {}), claimedAt: this.now().toISOString() };
      const current = await this.store.getJsonVersioned(claimKey, UniqueClaim, signal);
      if (!current) {
        if (await this.store.putJsonIf(claimKey, mine, { ifNoneMatch: '*' }, signal)) return { claimed: true };
        continue;
      }
      // A redelivery, or a delayed job's next hop: the claim is this job's own.
      if (current.value.jobId === jobId) return { claimed: true };
      const holder = await this.statuses.get(current.value.jobId, signal);
      if (claimHeld(current.value, holder, this.now())) return { claimed: false, duplicateOf: current.value.jobId };
      if (await this.store.putJsonIf(claimKey, mine, { ifMatch: current.etag }, signal)) return { claimed: true };
    }
    throw new Error(`unique key of job ${jobId}: lost ${maxRounds} conditional writes in a row to other requests`);
  }
}

/** JSON with object keys sorted, so that equal options give equal keys. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
