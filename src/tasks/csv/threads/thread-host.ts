import type { Readable } from 'node:stream';
import { MessageChannel } from 'node:worker_threads';
import { AbortedError, BadInputError } from '../../../contract/errors.js';
import type { CsvPool } from './csv-pool.js';
import { heapClassOf } from './csv-pool.js';
import type { FromThread, ReadResult, ThreadResult, ThreadSpec, ToThread } from './thread-protocol.js';

const threadRoles = { read: 'reading thread', check: 'checking thread', analyse: 'analysis thread' } as const;

/**
 * A thread that ran out of its heap. A `unique` checker's heap holds what the file holds (its column's
 * distinct values): the job fails, it is not retried. Any other thread keeps little, so running out says
 * the process was short of memory, not that the input is bad: the message is retried.
 */
function outOfMemory(spec: ThreadSpec, limitMb: number | undefined): Error {
  const heap = limitMb === undefined ? 'its heap' : `its ${limitMb} MB heap`;
  if (heapClassOf(spec) !== 'unique') return new Error(`The CSV ${threadRoles[spec.mode]} ran out of ${heap}`);
  return new BadInputError(
    'CSV_MEMORY_LIMIT',
    `The CSV ${threadRoles[spec.mode]} ran out of ${heap} on this file. A unique constraint keeps every distinct value of its column in memory: drop it or split the file (the operator can raise CSV_UNIQUE_HEAP_MB).`,
  );
}

/** What running a task on a thread takes from the pool: a fake stands in for it in unit tests. */
export type ThreadRunner = Pick<CsvPool, 'run' | 'heapLimitMb'>;

/** A task on a pool thread, with its messages typed and its failures mapped to our errors. */
export class CsvThread<S extends ThreadSpec> {
  private readonly channel = new MessageChannel();
  private readonly stop = new AbortController();
  private settled = false;
  /** Settles with the thread's result, or its failure (a BadInputError keeps its code). */
  readonly result: Promise<ThreadResult<S>>;

  constructor(pool: ThreadRunner, spec: S, onMessage: (msg: FromThread) => void = () => undefined) {
    const port = this.channel.port1;
    this.result = new Promise<ThreadResult<S>>((resolve, reject) => {
      port.on('message', (msg: FromThread) => {
        if (msg.type === 'result') resolve(msg.value as ThreadResult<S>);
        else if (msg.type === 'failed') reject(msg.name === 'BadInputError' && msg.code ? new BadInputError(msg.code, msg.message) : new Error(`CSV thread failed: ${msg.message}`));
        else onMessage(msg);
      });
      pool.run(spec, this.channel.port2, this.stop.signal).then(
        // The outcome travels on the port, behind the messages it follows; the task ends after sending it.
        () => undefined,
        (err: Error & { code?: unknown }) => reject(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? outOfMemory(spec, pool.heapLimitMb(spec)) : err),
      );
    }).finally(() => {
      this.settled = true;
      port.close();
    });
    // Awaited by the owner; a thread stopped after a sibling failed is not an unhandled rejection.
    this.result.catch(() => undefined);
  }

  post(msg: ToThread, transfer: ArrayBuffer[] = []): void {
    this.channel.port1.postMessage(msg, transfer);
  }

  /** Stops the task if it has not ended (its thread is replaced); a no-op once it has. */
  async terminate(): Promise<void> {
    if (!this.settled) this.stop.abort();
    await this.result.catch(() => undefined);
  }
}

/**
 * How a task that runs one or more threads waits: `race(p)` settles as `p` does, unless a thread fails
 * first (reported with `fail`) or the task is aborted (an AbortedError; at once if it already is). `stop`
 * is aborted with the task, or by `release` when the task ends, so what runs on under it stops too.
 */
export function threadGroup(signal: AbortSignal, task: string) {
  if (signal.aborted) throw new AbortedError(`${task} aborted before it started`, { cause: signal.reason });
  let fail: (err: unknown) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const aborted = new Promise<never>((_, reject) => stop.signal.addEventListener('abort', () => reject(new AbortedError(`${task} aborted`, { cause: stop.signal.reason })), { once: true }));
  aborted.catch(() => undefined);
  return {
    stop: stop.signal,
    fail: (err: unknown) => fail(err),
    race: <T>(p: Promise<T>): Promise<T> => Promise.race([p, failed, aborted]),
    release: () => {
      signal.removeEventListener('abort', onAbort);
      stop.abort();
    },
  };
}

/** Bytes of input in one message to a CSV thread (the last piece of an input may be shorter). */
export const pieceBytes = 1024 * 1024;

export interface FeedControl {
  /** Messages other than pull, result and failed (validation's reader sends its header and blocks). */
  message?: (msg: FromThread) => void;
  /** Resolves when the thread may be given the next chunk: the caller's backpressure. */
  ready?: (signal: AbortSignal) => Promise<void>;
}

/**
 * Runs a CSV task on a pool thread that reads `input`, so the daemon's event loop (heartbeats, /healthz)
 * never waits on parsing. This thread keeps the I/O: it reads the body and hands the thread one piece of input per
 * credit the thread grants, and only when `ready` allows, so a slow consumer or a slow parser holds back
 * the read (backpressure end to end, bounded memory). Abort stops the task at once.
 */
export async function runCsvThread(pool: ThreadRunner, spec: Extract<ThreadSpec, { mode: 'read' }>, input: Readable, signal: AbortSignal, control: FeedControl = {}): Promise<ReadResult> {
  const group = threadGroup(signal, 'CSV task');
  const stop = group.stop;
  let credits = 0;
  let wake: (() => void) | undefined;
  const thread = new CsvThread(pool, spec, (msg) => {
    if (msg.type === 'pull') {
      credits += 1;
      wake?.();
    } else control.message?.(msg);
  });

  // Input chunks (64 KiB from a file, often less from S3) are gathered into pieces of `pieceBytes`: the copy
  // each chunk needs anyway goes into the piece, and one message and one credit move a whole piece, not
  // one per chunk. In memory at once: the piece being filled here, the piece granted by the thread's one
  // outstanding pull, and its stream's buffer (which pulls again only once it has drained below its mark).
  let piece = new Uint8Array(pieceBytes);
  let filled = 0;
  const send = async (): Promise<boolean> => {
    while (credits === 0 && !stop.aborted) await new Promise<void>((r) => (wake = r));
    if (stop.aborted) return false;
    credits -= 1;
    await control.ready?.(stop);
    if (filled === pieceBytes) {
      thread.post({ type: 'chunk', chunk: piece }, [piece.buffer]);
      piece = new Uint8Array(pieceBytes);
    } else {
      // The input's last piece: a copy of its own size, so a small job does not transfer a whole megabyte.
      const last = piece.slice(0, filled);
      thread.post({ type: 'chunk', chunk: last }, [last.buffer]);
    }
    filled = 0;
    return true;
  };
  const feed = async () => {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      // Copied, never handed over: network buffers are often slices of a larger shared allocation.
      for (let at = 0; at < chunk.length; ) {
        const take = Math.min(chunk.length - at, pieceBytes - filled);
        piece.set(chunk.subarray(at, at + take), filled);
        filled += take;
        at += take;
        if (filled === pieceBytes && !(await send())) return;
      }
    }
    if (filled > 0 && !(await send())) return;
    thread.post({ type: 'end' });
  };

  try {
    const fed = feed();
    // If the thread fails first, stop feeding; if feeding fails (S3 read error), that error wins.
    const [value] = await group.race(Promise.all([thread.result, fed.catch(async (err: unknown) => { await thread.terminate(); throw err; })]));
    return value;
  } finally {
    group.release();
    wake?.();
    input.destroy();
    await thread.terminate();
  }
}
