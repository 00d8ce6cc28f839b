/** How a batcher bounds one batch call and how long a request may wait for one. */
export interface BatchLimits<E> {
  /** Entries per call (SQS: ten). */
  maxEntries: number;
  /** Payload per call, in the units `sizeOf` counts. */
  maxBytes: number;
  sizeOf: (entry: E) => number;
  /** How long a request waits behind a call under way before it goes without it returning. */
  maxWaitMs: number;
}

/** A batch call's answer for one entry: its result, or the error that entry alone failed with. */
export type EntryResult<R> = { ok: true; value: R } | { ok: false; error: Error };

interface Pending<E, R> {
  entry: E;
  size: number;
  resolve: (value: R) => void;
  reject: (err: Error) => void;
}

/**
 * Turns single requests into batch calls, group-commit style: a request goes out at once (with any made
 * in the same turn) when no call is under way, and otherwise waits for one to return, or for
 * `maxWaitMs`, and goes with everything gathered meanwhile. A full batch never waits. So a quiet worker's
 * requests keep their latency, and a busy one's share calls: the busier the event loop, the longer a call
 * is under way and the fuller the next batch. Each caller learns how its own entry fared.
 */
export class RequestBatcher<E, R> {
  private pending: Pending<E, R>[] = [];
  private pendingBytes = 0;
  private inFlight = 0;
  private immediate: NodeJS.Immediate | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** One batch call: resolves with one result per entry, in order; rejects when the whole call failed. */
    private readonly call: (entries: E[]) => Promise<EntryResult<R>[]>,
    private readonly limits: BatchLimits<E>,
  ) {}

  add(entry: E): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const size = this.limits.sizeOf(entry);
      if (this.pending.length > 0 && this.pendingBytes + size > this.limits.maxBytes) this.flush();
      this.pending.push({ entry, size, resolve, reject });
      this.pendingBytes += size;
      if (this.pending.length >= this.limits.maxEntries || this.pendingBytes >= this.limits.maxBytes) this.flush();
      else if (this.inFlight === 0) this.immediate ??= setImmediate(() => this.flush());
      else this.timer ??= setTimeout(() => this.flush(), this.limits.maxWaitMs);
    });
  }

  private flush(): void {
    if (this.immediate) clearImmediate(this.immediate);
    if (this.timer) clearTimeout(this.timer);
    this.immediate = this.timer = undefined;
    while (this.pending.length > 0) {
      let count = 0;
      let bytes = 0;
      // At least one entry per call, so an entry larger than maxBytes still goes (alone) and the service judges it.
      while (count < this.pending.length && count < this.limits.maxEntries && (count === 0 || bytes + this.pending[count]!.size <= this.limits.maxBytes)) {
        bytes += this.pending[count]!.size;
        count += 1;
      }
      this.pendingBytes -= bytes;
      void this.send(this.pending.splice(0, count));
    }
  }

  private async send(batch: Pending<E, R>[]): Promise<void> {
    this.inFlight += 1;
    try {
      const results = await this.call(batch.map((p) => p.entry));
      batch.forEach((p, i) => {
        const r = results[i];
        if (!r) p.reject(new Error('the batch call returned no result for this entry'));
        else if (r.ok) p.resolve(r.value);
        else p.reject(r.error);
      });
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      for (const p of batch) p.reject(error);
    } finally {
      this.inFlight -= 1;
      if (this.pending.length > 0) this.flush();
    }
  }
}
