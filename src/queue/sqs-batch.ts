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

/** What an SQS batch call answers: the entries that succeeded and those that failed, by entry Id. */
export interface BatchAnswer<S extends { Id?: string }> {
  Successful?: S[];
  Failed?: { Id?: string; Code?: string; Message?: string; SenderFault?: boolean }[];
}

/**
 * One SQS batch call over `entries`: numbers them (the Ids SQS wants, unique within the call), sends them,
 * and maps the answer back onto the entries in order.
 */
export async function callSqsBatch<E extends object, S extends { Id?: string }, R>(
  operation: string,
  entries: E[],
  send: (numbered: (E & { Id: string })[]) => Promise<BatchAnswer<S>>,
  value: (success: S) => R,
): Promise<EntryResult<R>[]> {
  const numbered = entries.map((e, i) => ({ ...e, Id: String(i) }));
  const answer = await send(numbered);
  const succeeded = new Map((answer.Successful ?? []).map((s) => [s.Id, s]));
  const failed = new Map((answer.Failed ?? []).map((f) => [f.Id, f]));
  return numbered.map(({ Id }) => {
    const s = succeeded.get(Id);
    if (s) return { ok: true, value: value(s) };
    return { ok: false, error: new BatchEntryError(operation, failed.get(Id) ?? { Code: 'MissingFromAnswer', SenderFault: false }) };
  });
}
