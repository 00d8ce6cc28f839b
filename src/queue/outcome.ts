import { jitteredBackoff } from './backoff.js';
import { AbortedError, BadInputError, BadMessageError, LeaseLostError, errorMessage, isInfrastructureError } from '../contract/errors.js';

/**
 * What a handler decided about one message; the consumer acts on it.
 * - done: work finished (next stage already sent), delete the message.
 * - failed: the job failed for good (bad input) and that is recorded, delete the message.
 * - retry: the work failed and may work next time: the attempt counts, the message comes back after a growing delay.
 * - dead-letter: the message itself is unusable, move it to the queue's DLQ now.
 * - release: not the message's fault (shutdown, or S3/SQS failing): make it visible again after
 *   `delaySeconds` without spending its retry budget.
 * - abandoned: the lease was lost (another worker may hold the message): touch nothing.
 */
export type Outcome =
  | { kind: 'done' }
  | { kind: 'failed'; code: string; message: string }
  | { kind: 'retry'; reason: string }
  | { kind: 'dead-letter'; reason: string }
  | { kind: 'release'; reason: string; delaySeconds: number; infrastructure: boolean }
  | { kind: 'abandoned'; reason: string };

export type OutcomeKind = Outcome['kind'];

export const done: Outcome = { kind: 'done' };

/**
 * The one decision of what an error means for its message. Order matters: a lost lease wins over
 * everything (this worker no longer owns the message), then an unusable body, then an interruption
 * (whatever the work threw while it was being stopped), then bad input, then a failing store or queue.
 */
export function outcomeForError(err: unknown, signal?: AbortSignal): Outcome {
  if (err instanceof LeaseLostError || signal?.reason instanceof LeaseLostError) {
    return { kind: 'abandoned', reason: errorMessage(signal?.reason ?? err) };
  }
  if (err instanceof BadMessageError) return { kind: 'dead-letter', reason: err.message };
  if (err instanceof AbortedError || signal?.aborted) {
    return { kind: 'release', reason: errorMessage(signal?.reason ?? err), delaySeconds: 0, infrastructure: false };
  }
  if (err instanceof BadInputError) return { kind: 'failed', code: err.code, message: err.message };
  if (isInfrastructureError(err)) {
    return { kind: 'release', reason: errorMessage(err), delaySeconds: infrastructureReleaseDelaySeconds(), infrastructure: true };
  }
  // Anything else may work next time: retrying is safe (work is idempotent) and SQS's maxReceiveCount
  // bounds it, after which the message waits in the DLQ for a person.
  return { kind: 'retry', reason: errorMessage(err) };
}

/**
 * A handler's outcome once its lease may be gone: finished work stands, anything else is left alone, since
 * the message may be another worker's now.
 */
export function outcomeUnderLease(outcome: Outcome, signal: AbortSignal): Outcome {
  if (signal.reason instanceof LeaseLostError && outcome.kind !== 'done') return { kind: 'abandoned', reason: errorMessage(signal.reason) };
  return outcome;
}

/** How strongly each outcome keeps its message: a message that stands for several jobs takes the strongest. */
const hold: Record<OutcomeKind, number> = { done: 0, failed: 1, 'dead-letter': 2, retry: 3, release: 4, abandoned: 5 };

/** The outcome of a message that stands for several jobs (an S3 event with several records): finished jobs repeat harmlessly. */
export function combinedOutcome(outcomes: readonly Outcome[]): Outcome {
  return outcomes.reduce((a, b) => (hold[b.kind] > hold[a.kind] ? b : a), done);
}

/** Capped exponential backoff with full jitter on the upper half, from the receive count. */
export function retryDelaySeconds(receiveCount: number, baseSeconds = 5, capSeconds = 900, random: () => number = Math.random): number {
  return jitteredBackoff(receiveCount - 1, baseSeconds, capSeconds, random);
}

/** A message held when S3 or SQS failed comes back after 10-30 s: by then the circuit breaker gates receives. */
export function infrastructureReleaseDelaySeconds(random: () => number = Math.random): number {
  return Math.round(10 + random() * 20);
}

/** The last delivery SQS makes before it moves the message to the DLQ. */
export function isLastAttempt(receiveCount: number, maxReceiveCount: number | undefined): boolean {
  return maxReceiveCount !== undefined && receiveCount >= maxReceiveCount;
}
