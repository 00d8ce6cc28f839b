import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { AbortedError, BadInputError } from '../../errors.js';
import type { FromThread, OutputName, ThreadResult, ThreadSpec, ToThread } from './thread-protocol.js';

/**
 * The thread's entry: the compiled .js, or under tsx (tests, bench) the .ts source, loaded after
 * registering tsx in the thread, since Node 20 does not carry `--import tsx` hooks into workers.
 */
const fromSource = import.meta.url.endsWith('.ts');
const entry = new URL(fromSource ? './thread-main.ts' : './thread-main.js', import.meta.url);
const startWorker = (spec: ThreadSpec) =>
  fromSource
    ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`, { eval: true, workerData: spec })
    : new Worker(entry, { workerData: spec });

/**
 * Runs CSV parsing in a worker thread so the daemon's event loop (heartbeats, /healthz) never waits on it.
 * This thread keeps the I/O: it reads the S3 body and hands the thread one chunk per credit the thread
 * grants, and withholds chunks while an output stream is full, so a slow upload or a slow parser holds
 * back the S3 read (backpressure end to end, bounded memory). Abort terminates the thread at once.
 */
export async function runCsvThread<S extends ThreadSpec>(
  spec: S,
  input: Readable,
  outputs: Partial<Record<OutputName, Writable>>,
  signal: AbortSignal,
): Promise<ThreadResult<S>> {
  if (signal.aborted) throw new AbortedError('CSV task aborted before it started', { cause: signal.reason });
  const worker = startWorker(spec);
  let credits = 0;
  let wake: (() => void) | undefined;
  const stop = new AbortController();
  const post = (msg: ToThread, transfer: ArrayBuffer[] = []) => worker.postMessage(msg, transfer);

  const result = new Promise<ThreadResult<S>>((resolve, reject) => {
    worker.on('message', (msg: FromThread) => {
      switch (msg.type) {
        case 'pull':
          credits += 1;
          wake?.();
          return;
        case 'output':
          outputs[msg.name]?.write(Buffer.from(msg.chunk.buffer, msg.chunk.byteOffset, msg.chunk.byteLength));
          return;
        case 'result':
          resolve(msg.value as ThreadResult<S>);
          return;
        case 'failed':
          reject(msg.name === 'BadInputError' && msg.code ? new BadInputError(msg.code, msg.message) : new Error(`CSV thread failed: ${msg.message}`));
          return;
      }
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`CSV thread exited (code ${code}) before it finished`)));
    signal.addEventListener('abort', () => reject(new AbortedError('CSV task aborted', { cause: signal.reason })), { once: true, signal: stop.signal });
  });

  const feed = async () => {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      while (credits === 0 && !stop.signal.aborted) await new Promise<void>((r) => (wake = r));
      if (stop.signal.aborted) return;
      credits -= 1;
      for (const out of Object.values(outputs)) if (out.writableNeedDrain) await once(out, 'drain', { signal: stop.signal });
      // A fresh copy the thread can own: network buffers are often slices of a larger shared allocation.
      const copy = new Uint8Array(chunk);
      post({ type: 'chunk', chunk: copy }, [copy.buffer]);
    }
    post({ type: 'end' });
  };

  try {
    const fed = feed();
    // If the thread fails first, stop feeding; if feeding fails (S3 read error), that error wins.
    const [value] = await Promise.all([result, fed.catch(async (err: unknown) => { await worker.terminate(); throw err; })]);
    return value;
  } finally {
    stop.abort();
    wake?.();
    input.destroy();
    await worker.terminate();
  }
}
