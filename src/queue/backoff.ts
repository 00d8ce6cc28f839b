/**
 * The one backoff of the process: attempt n (from 0) waits between half and all of min(cap, base * 2^n),
 * so waits grow, stay capped, and replicas spread out. Units are the caller's (seconds or milliseconds).
 */
export function jitteredBackoff(attempt: number, base: number, cap: number, random: () => number = Math.random): number {
  const exp = Math.min(cap, base * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/** Waits `ms`, or less if `signal` aborts first; never rejects (callers check the signal). */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
