import { z } from 'zod';
import { scheduleStateKey } from '../../contract/job-keys.js';
import { ScheduleState } from '../../contract/schedules.js';
import type { ObjectStore, Versioned } from '../../storage/object-store.js';

/**
 * A schedule's record in S3 (`jobs/.stageline/schedules/<name>.json`): what catch-up starts from, what
 * the overlap check asks about, and what `stageline schedules` shows. It is a hint, not the claim: a
 * tick's job is claimed by creating its status.json. Every replica writes it, so each write merges:
 * lastTick and the last job only move forward, and a write over a version another replica replaced
 * (If-Match / If-None-Match refused) reads again and merges again.
 */

/** What one handled tick adds: the tick, and the job it created if it created one. */
export interface StateUpdate {
  tick: Date;
  jobId?: string;
}

const maxConflicts = 10;

export async function readScheduleState(store: ObjectStore, name: string, signal?: AbortSignal): Promise<ScheduleState | undefined> {
  return (await readVersioned(store, name, signal))?.state;
}

/** Moves the record forward to `update`; false when other writers kept winning (the next tick tries again). */
export async function advanceScheduleState(store: ObjectStore, name: string, update: StateUpdate, now: Date, signal?: AbortSignal): Promise<boolean> {
  const key = scheduleStateKey(name);
  for (let i = 0; i < maxConflicts; i++) {
    const current = await readVersioned(store, name, signal);
    const next = merged(name, current?.state, update, now);
    if (!next) return true;
    const condition = current ? { ifMatch: current.etag } : ({ ifNoneMatch: '*' } as const);
    if (await store.putJsonIf(key, next, condition, signal)) return true;
  }
  return false;
}

/** The record with `update` merged in, or undefined when it already says as much. */
export function merged(name: string, current: ScheduleState | undefined, update: StateUpdate, now: Date): ScheduleState | undefined {
  const tick = update.tick.getTime();
  const newerTick = !current || tick > Date.parse(current.lastTick);
  const newerJob = update.jobId !== undefined && (current?.lastJobTick === undefined || tick > Date.parse(current.lastJobTick));
  if (!newerTick && !newerJob) return undefined;
  const iso = update.tick.toISOString();
  return {
    name,
    lastTick: newerTick ? iso : (current?.lastTick ?? iso),
    ...(newerJob ? { lastJobId: update.jobId, lastJobTick: iso } : current?.lastJobId ? { lastJobId: current.lastJobId, lastJobTick: current.lastJobTick } : {}),
    updatedAt: now.toISOString(),
  };
}

/** A record of another shape (an older version, a hand edit) counts as none, and is written over. */
async function readVersioned(store: ObjectStore, name: string, signal?: AbortSignal): Promise<{ state: ScheduleState | undefined; etag: string } | undefined> {
  const raw: Versioned<unknown> | undefined = await store.getJsonVersioned(scheduleStateKey(name), z.unknown(), signal);
  if (!raw) return undefined;
  const parsed = ScheduleState.safeParse(raw.value);
  return { state: parsed.success ? parsed.data : undefined, etag: raw.etag };
}
