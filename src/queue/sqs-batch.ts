import type { BatchLimits, EntryResult } from './request-batcher.js';

/**
 * SQS's bounds on a batch call: ten entries, and 256 KiB of messages (AWS's limit until 2025; SQS-compatible
 * services other than AWS may still hold to it). A request waits behind a call under way for at most 20 ms: a
 * message to delete stays invisible meanwhile, and a message to send is on a job's path.
 */
export function sqsBatchLimits<E>(sizeOf: (entry: E) => number): BatchLimits<E> {
  return { maxEntries: 10, maxBytes: 256 * 1024, sizeOf, maxWaitMs: 20 };
}

/**
 * One entry of an SQS batch call that failed while the call succeeded. Named by SQS's code for it, with
 * `$fault` as the SDK marks its own errors, so it is judged as the same failure of a single call would be.
 */
export class BatchEntryError extends Error {
  readonly $fault: 'client' | 'server';
  constructor(operation: string, entry: { Code?: string; Message?: string; SenderFault?: boolean }) {
    super(`${operation} failed for this message: ${entry.Code ?? 'unknown'}${entry.Message ? ` ${entry.Message}` : ''}`);
    this.name = entry.Code ?? 'BatchEntryError';
    this.$fault = entry.SenderFault === false ? 'server' : 'client';
  }
}

/** Maps a batch call's Successful/Failed lists, keyed by entry Id, back onto the entries in order. */
export function entryResults<S extends { Id?: string }, R>(
  operation: string,
  ids: string[],
  answer: { Successful?: S[]; Failed?: { Id?: string; Code?: string; Message?: string; SenderFault?: boolean }[] },
  value: (success: S) => R,
): EntryResult<R>[] {
  const succeeded = new Map((answer.Successful ?? []).map((s) => [s.Id, s]));
  const failed = new Map((answer.Failed ?? []).map((f) => [f.Id, f]));
  return ids.map((id) => {
    const s = succeeded.get(id);
    if (s) return { ok: true, value: value(s) };
    return { ok: false, error: new BatchEntryError(operation, failed.get(id) ?? { Code: 'MissingFromAnswer', SenderFault: false }) };
  });
}
