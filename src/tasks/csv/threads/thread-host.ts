import type { Readable } from 'node:stream';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { AbortedError, BadInputError } from '../../../contract/errors.js';
import { hasUniqueConstraint } from '../schema/schema.js';
import type { FromThread, ThreadResult, ThreadSpec, ToThread } from './thread-protocol.js';

/**
 * The thread's entry: the compiled .js, or under tsx (tests, bench) the .ts source, loaded after
 * registering tsx in the thread, since Node 20 does not carry `--import tsx` hooks into workers.
 */
const fromSource = import.meta.url.endsWith('.ts');
const entry = new URL(fromSource ? './thread-main.ts' : './thread-main.js', import.meta.url);

/**
 * Heap bounds per thread. Each block or chunk leaves a dead megabyte-sized string behind, and V8 lets a
 * heap grow far before it collects them: a thread that keeps little alive gets a small heap, so its RSS
 * stays flat (measured: 355 MB -> 246 MB peak for validation with two checkers). A checker holding a
 * `unique` set keeps data in proportion to the file: `keepsDataHeapMb` (CSV_UNIQUE_HEAP_MB) bounds it,
 * so a column of millions of distinct values fails its job instead of the container. Analysis (its value
 * counts spill to disk) gets no bound.
 */
function heapLimits(spec: ThreadSpec, keepsDataHeapMb: number | undefined): ResourceLimits {
  const keepsLittle = spec.mode === 'read' || (spec.mode === 'check' && !hasUniqueConstraint(spec.schema));
  if (keepsLittle) return { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 48 };
  return keepsDataHeapMb === undefined ? { maxYoungGenerationSizeMb: 8 } : { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: keepsDataHeapMb };
}

const threadRoles = { read: 'reading thread', check: 'checking thread', analyse: 'analysis thread' } as const;

/**
 * A thread that ran out of its heap did so on this input (schemas and records are bounded, so what grows
 * is what the file holds, such as a `unique` column's distinct values): the job fails, it is not retried.
 */
function outOfMemory(spec: ThreadSpec, limits: ResourceLimits): BadInputError {
  const heap = limits.maxOldGenerationSizeMb === undefined ? 'its heap' : `its ${limits.maxOldGenerationSizeMb} MB heap`;
  return new BadInputError(
    'CSV_MEMORY_LIMIT',
    `The CSV ${threadRoles[spec.mode]} ran out of ${heap} on this file. A unique constraint keeps every distinct value of its column in memory: drop it or split the file (the operator can raise CSV_UNIQUE_HEAP_MB).`,
  );
}

/** A CSV thread, with its messages typed and its failures mapped to our errors. */
export class CsvThread<S extends ThreadSpec> {
  private readonly worker: Worker;
  /** Settles with the thread's result, or its failure (a BadInputError keeps its code). */
  readonly result: Promise<ThreadResult<S>>;

  constructor(spec: S, onMessage: (msg: FromThread) => void = () => undefined, keepsDataHeapMb?: number) {
    const resourceLimits = heapLimits(spec, keepsDataHeapMb);
    this.worker = fromSource
      ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`, { eval: true, workerData: spec, resourceLimits })
      : new Worker(entry, { workerData: spec, resourceLimits });
    this.result = new Promise<ThreadResult<S>>((resolve, reject) => {
      this.worker.on('message', (msg: FromThread) => {
        if (msg.type === 'result') resolve(msg.value as ThreadResult<S>);
        else if (msg.type === 'failed') reject(msg.name === 'BadInputError' && msg.code ? new BadInputError(msg.code, msg.message) : new Error(`CSV thread failed: ${msg.message}`));
        else onMessage(msg);
      });
      this.worker.on('error', (err: Error & { code?: unknown }) => reject(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? outOfMemory(spec, resourceLimits) : err));
      this.worker.on('exit', (code) => reject(new Error(`CSV thread exited (code ${code}) before it finished`)));
    });
    // Awaited by the owner; a thread terminated after a sibling failed is not an unhandled rejection.
    this.result.catch(() => undefined);
  }

  post(msg: ToThread, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(msg, transfer);
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

export interface CsvThreadOptions {
  /** Checker threads validation runs besides its reader (CSV_THREADS). */
  threads: number;
  /** Heap of the one checker that holds a `unique` constraint's values (CSV_UNIQUE_HEAP_MB). */
  uniqueHeapMb: number;
}

export interface FeedControl {
  /** Messages other than pull, result and failed (validation's reader sends its header and blocks). */
  message?: (msg: FromThread) => void;
  /** Resolves when the thread may be given the next chunk: the caller's backpressure. */
  ready?: (signal: AbortSignal) => Promise<void>;
}

/**
 * Runs a CSV thread that reads `input`, so the daemon's event loop (heartbeats, /healthz) never waits on
 * parsing. This thread keeps the I/O: it reads the body and hands the thread one chunk per credit the
 * thread grants, and only when `ready` allows, so a slow consumer or a slow parser holds back the read
 * (backpressure end to end, bounded memory). Abort terminates the thread at once.
 */
export async function runCsvThread<S extends ThreadSpec>(spec: S, input: Readable, signal: AbortSignal, control: FeedControl = {}): Promise<ThreadResult<S>> {
  if (signal.aborted) throw new AbortedError('CSV task aborted before it started', { cause: signal.reason });
  let credits = 0;
  let wake: (() => void) | undefined;
  const stop = new AbortController();
  const thread = new CsvThread(spec, (msg) => {
    if (msg.type === 'pull') {
      credits += 1;
      wake?.();
    } else control.message?.(msg);
  });
  const aborted = new Promise<never>((_, reject) => {
    signal.addEventListener('abort', () => reject(new AbortedError('CSV task aborted', { cause: signal.reason })), { once: true, signal: stop.signal });
  });
  aborted.catch(() => undefined);

  const feed = async () => {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      while (credits === 0 && !stop.signal.aborted) await new Promise<void>((r) => (wake = r));
      if (stop.signal.aborted) return;
      credits -= 1;
      await control.ready?.(stop.signal);
      // A fresh copy the thread can own: network buffers are often slices of a larger shared allocation.
      const copy = new Uint8Array(chunk);
      thread.post({ type: 'chunk', chunk: copy }, [copy.buffer]);
    }
    thread.post({ type: 'end' });
  };

  try {
    const fed = feed();
    // If the thread fails first, stop feeding; if feeding fails (S3 read error), that error wins.
    const [value] = await Promise.race([Promise.all([thread.result, fed.catch(async (err: unknown) => { await thread.terminate(); throw err; })]), aborted]);
    return value;
  } finally {
    stop.abort();
    wake?.();
    input.destroy();
    await thread.terminate();
  }
}
