import { S3Client } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import type { z } from 'zod';
import type { JobRequest } from '../../src/contract/job.js';
import { parseSchedulesFile, type Schedule } from '../../src/contract/schedules.js';
import { JobStatusStore } from '../../src/pipeline/job-status.js';
import { startScheduler, type Scheduler, type SchedulerOptions } from '../../src/pipeline/schedules/scheduler.js';
import { ObjectStore, type Versioned, type WriteCondition, type Written } from '../../src/storage/object-store.js';
import { kindDefinitions } from '../../src/tasks/index.js';

/**
 * An ObjectStore in memory that honours If-Match / If-None-Match as S3 does: several schedulers on one
 * instance are replicas sharing a bucket. `failWrites` / `failReads` make the next calls throw.
 */
export class MemoryStore extends ObjectStore {
  readonly objects = new Map<string, { body: string; etag: string }>();
  failWrites = 0;
  failReads = 0;
  private version = 0;

  constructor() {
    super(new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }), 'test-bucket');
  }

  override async getJsonVersioned<S extends z.ZodType>(key: string, schema: S): Promise<Versioned<z.infer<S>> | undefined> {
    await Promise.resolve();
    if (this.failReads > 0) {
      this.failReads -= 1;
      throw Object.assign(new Error('injected: S3 refused the read'), { name: 'AccessDenied' });
    }
    const object = this.objects.get(key);
    return object ? { value: schema.parse(JSON.parse(object.body)) as z.infer<S>, etag: object.etag } : undefined;
  }

  override async putJsonIf(key: string, value: unknown, condition: WriteCondition): Promise<Written | false> {
    await Promise.resolve();
    if (this.failWrites > 0) {
      this.failWrites -= 1;
      throw Object.assign(new Error('injected: S3 refused the write'), { name: 'AccessDenied' });
    }
    const existing = this.objects.get(key);
    if ('ifNoneMatch' in condition ? existing !== undefined : existing?.etag !== condition.ifMatch) return false;
    const etag = `"${++this.version}"`;
    this.objects.set(key, { body: JSON.stringify(value), etag });
    return { etag };
  }

  override async putJson(key: string, value: unknown): Promise<string> {
    this.objects.set(key, { body: JSON.stringify(value), etag: `"${++this.version}"` });
    return key;
  }

  json(key: string): unknown {
    const object = this.objects.get(key);
    return object ? JSON.parse(object.body) : undefined;
  }
}

/**
 * A clock the test moves: `sleep` waits for it, and `runUntil` steps from wake-up to wake-up, letting
 * every sleeper run its pass (the in-memory store answers at once) before the next step.
 */
export class FakeClock {
  private sleepers: { until: number; resolve: () => void }[] = [];
  private nowMs: number;

  constructor(start: Date | string) {
    this.nowMs = new Date(start).getTime();
  }

  now = (): Date => new Date(this.nowMs);

  sleep = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const onAbort = () => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
        resolve();
      };
      const sleeper = {
        until: this.nowMs + ms,
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.sleepers.push(sleeper);
      signal.addEventListener('abort', onAbort, { once: true });
    });

  get sleeping(): number {
    return this.sleepers.length;
  }

  /** Waits until `count` loops sleep (each has finished its pass). */
  async settle(count: number): Promise<void> {
    for (let i = 0; i < 10_000 && this.sleepers.length < count; i++) await new Promise((r) => setImmediate(r));
    if (this.sleepers.length < count) throw new Error(`only ${this.sleepers.length} of ${count} loops went back to sleep`);
  }

  /** Moves time to `end`, waking sleepers in order; `count` loops are expected to sleep between steps. */
  async runUntil(end: Date | string, count: number): Promise<void> {
    const endMs = new Date(end).getTime();
    await this.settle(count);
    for (;;) {
      const next = Math.min(...this.sleepers.map((s) => s.until));
      if (next > endMs) break;
      this.nowMs = Math.max(this.nowMs, next);
      const due = this.sleepers.filter((s) => s.until <= this.nowMs);
      this.sleepers = this.sleepers.filter((s) => s.until > this.nowMs);
      for (const s of due) s.resolve();
      await this.settle(count);
    }
    this.nowMs = endMs;
  }

  /** Moves time without waking anyone: what a process that is not running sees. */
  jump(to: Date | string): void {
    this.nowMs = new Date(to).getTime();
  }
}

export const quietLogger = pino({ level: 'silent' });

/** Schedules as the file gives them, defaults filled in. */
export function schedules(...entries: Record<string, unknown>[]): Schedule[] {
  return parseSchedulesFile({ schedules: entries }, kindDefinitions, 'test').schedules;
}

export interface Replica {
  scheduler: Scheduler;
  sent: JobRequest[];
}

/** A scheduler over the shared store and clock, recording what it sends. */
export function replica(store: MemoryStore, clock: FakeClock, list: readonly Schedule[], overrides: Partial<SchedulerOptions> = {}): Replica {
  const sent: JobRequest[] = [];
  const scheduler = startScheduler({
    schedules: list,
    store,
    statuses: new JobStatusStore(store),
    send: async (request) => void sent.push(request),
    defaultBucket: 'test-bucket',
    logger: quietLogger,
    now: clock.now,
    sleep: clock.sleep,
    retry: { baseMs: 1000, capMs: 1000 },
    ...overrides,
  });
  return { scheduler, sent };
}
