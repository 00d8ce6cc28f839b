/**
 * Entry of the CSV parsing thread (see thread-host.ts). Input arrives as transferred chunks, one per
 * 'pull' this thread sends when its source wants more; outputs leave in batches of about 256 KiB.
 */
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { analyseCsv } from './analyser.js';
import type { FromThread, OutputName, ThreadSpec, ToThread } from './thread-protocol.js';
import { validateCsv } from './validator.js';

const port = parentPort!;
const spec = workerData as ThreadSpec;
const send = (msg: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

const source = new Readable({
  highWaterMark: 512 * 1024,
  read() {
    send({ type: 'pull' });
  },
});
port.on('message', (msg: ToThread) => {
  if (msg.type === 'chunk') source.push(Buffer.from(msg.chunk.buffer, msg.chunk.byteOffset, msg.chunk.byteLength));
  else source.push(null);
});

const batchChars = 256 * 1024;
const pending = new Map<OutputName, { parts: string[]; chars: number }>();
const flush = (name: OutputName) => {
  const batch = pending.get(name);
  if (!batch || batch.parts.length === 0) return;
  // TextEncoder always allocates a fresh buffer, safe to transfer (Buffer.from may hand out its pool).
  const chunk = new TextEncoder().encode(batch.parts.join(''));
  pending.set(name, { parts: [], chars: 0 });
  send({ type: 'output', name, chunk }, [chunk.buffer as ArrayBuffer]);
};
const emit = (name: OutputName, text: string) => {
  let batch = pending.get(name);
  if (!batch) pending.set(name, (batch = { parts: [], chars: 0 }));
  batch.parts.push(text);
  batch.chars += text.length;
  if (batch.chars >= batchChars) flush(name);
};

const work = spec.mode === 'validate' ? validateCsv(source, spec.format, spec.schema, emit) : analyseCsv(source, spec.columns, spec.tmpDir);
work.then(
  (value) => {
    for (const name of pending.keys()) flush(name);
    send({ type: 'result', value });
  },
  (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = (e as { code?: unknown }).code;
    send({ type: 'failed', name: e.name, code: typeof code === 'string' ? code : undefined, message: e.message });
  },
);
