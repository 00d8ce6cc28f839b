import { abortableSleep, jitteredBackoff } from '../queue/backoff.js';
import { AbortedError, errorMessage, isInfrastructureError } from '../contract/errors.js';

/** Capped exponential backoff with jitter: attempt n waits between half and all of min(cap, base * 2^(n-1)). */
export interface Backoff {
  baseMs: number;
  capMs: number;
  random?: () => number;
}

const defaultBackoff: Backoff = { baseMs: 250, capMs: 15_000 };

export interface RetryOptions {
  /** Ends the waiting: the caller gives up (shutdown, lost lease, watcher stopped). */
  signal?: AbortSignal;
  backoff?: Backoff;
  onRetry?: (err: unknown, failures: number, waitMs: number) => void;
}

/**
 * Runs `call` until it succeeds. While S3 or SQS is failing (`isInfrastructureError`), each failure
 * waits a growing, capped, jittered pause and tries again, for as long as the outage lasts: a status
 * write or a terminal event is worth waiting for, never dropped. Any other error ends it at once, and
 * so does `signal`, always with an AbortedError (whose outcome releases the message).
 */
export async function retryWhileUnavailable<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { signal, backoff = defaultBackoff } = options;
  const random = backoff.random ?? Math.random;
  for (let failures = 1; ; failures++) {
    try {
      return await call();
    } catch (err) {
      if (signal?.aborted) throw givenUp(signal, err);
      if (!isInfrastructureError(err)) throw err;
      const waitMs = jitteredBackoff(failures - 1, backoff.baseMs, backoff.capMs, random);
      options.onRetry?.(err, failures, waitMs);
      await abortableSleep(waitMs, signal);
      if (signal?.aborted) throw givenUp(signal, err);
    }
  }
}

function givenUp(signal: AbortSignal | undefined, last: unknown): AbortedError {
  return new AbortedError(`gave up waiting for the store: ${errorMessage(signal?.reason ?? 'aborted')}`, { cause: last });
}
