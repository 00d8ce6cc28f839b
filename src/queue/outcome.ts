import { AbortedError, BadInputError, BadMessageError, errorMessage } from '../errors.js';

/**
 * What a handler decided about one message; the consumer acts on it.
 * - done: work finished (next stage already sent), delete the message.
 * - failed: the job failed for good (bad input) and that is recorded, delete the message.
 * - retry: transient trouble, keep the message and make it visible again after a growing delay.
 * - dead-letter: the message itself is unusable, move it to the queue's DLQ now.
 * - release: work was interrupted (shutdown), make the message visible again at once.
 */
export type Outcome =
  | { kind: 'done' }
  | { kind: 'failed'; code: string; message: string }
  | { kind: 'retry'; reason: string }
  | { kind: 'dead-letter'; reason: string }
  | { kind: 'release'; reason: string };

export type OutcomeKind = Outcome['kind'];

export const done: Outcome = { kind: 'done' };

/** The decision for an error a handler threw instead of returning an outcome. */
export function outcomeForError(err: unknown, signal?: AbortSignal): Outcome {
  if (err instanceof BadMessageError) return { kind: 'dead-letter', reason: err.message };
  if (err instanceof BadInputError) return { kind: 'failed', code: err.code, message: err.message };
  if (err instanceof AbortedError || signal?.aborted) return { kind: 'release', reason: errorMessage(err) };
  // Transient, and anything unexpected: retrying is safe (work is idempotent) and SQS's
  // maxReceiveCount bounds it, after which the message waits in the DLQ for a person.
  return { kind: 'retry', reason: errorMessage(err) };
}

/** Capped exponential backoff with full jitter on the upper half, from the receive count. */
export function retryDelaySeconds(receiveCount: number, baseSeconds = 5, capSeconds = 900): number {
  const exp = Math.min(capSeconds, baseSeconds * 2 ** Math.max(0, receiveCount - 1));
  return Math.round(exp / 2 + (Math.random() * exp) / 2);
}
