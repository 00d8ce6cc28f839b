/**
 * Entry of a CSV thread (see thread-host.ts). The reader and analysis get input as transferred chunks,
 * one per 'pull' their source sends when it wants more; a checker gets blocks and answers each with its
 * outputs.
 */
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { analyseCsv } from '../analyse/analyser.js';
import { readBlocks } from '../read/block-reader.js';
import { streamRecords } from '../read/record-stream.js';
import type { FromThread, ThreadSpec, ToThread } from './thread-protocol.js';
import { OutputText, RowValidator } from '../validate/validator.js';

const port = parentPort!;
const spec = workerData as ThreadSpec;
const send = (msg: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
const bytesOf = (chunk: Uint8Array) => Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);

const fail = (err: unknown) => {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  send({ type: 'failed', name: e.name, code: typeof code === 'string' ? code : undefined, message: e.message });
};

if (spec.mode === 'check') {
  const { header, schema, delimiter } = spec;
  let validator: RowValidator | undefined;
  // Blocks are checked one at a time, in the order they arrive; a failure ends the thread's work.
  let work = Promise.resolve();
  let failed = false;
  port.on('message', (msg: ToThread) => {
    work = work
      .then(async () => {
        if (failed) return;
        validator ??= new RowValidator(header, schema, delimiter);
        if (msg.type === 'finish') return send({ type: 'result', value: { inference: validator.inferenceStates() } });
        if (msg.type !== 'block') return;
        const out = { validated: new OutputText(), rejects: new OutputText() };
        const { handler, counts } = validator.block(msg, out);
        await streamRecords(Readable.from([bytesOf(msg.chunk)]), [], delimiter, handler, { ...(msg.ending ? { ending: msg.ending } : {}), firstLine: msg.firstLine });
        // TextEncoder always allocates a fresh buffer, safe to transfer (Buffer.from may hand out its pool).
        const validated = new TextEncoder().encode(out.validated.take());
        const rejects = new TextEncoder().encode(out.rejects.take());
        send({ type: 'checked', index: msg.index, validated, rejects, counts }, [validated.buffer as ArrayBuffer, rejects.buffer as ArrayBuffer]);
      })
      .catch((err: unknown) => {
        failed = true;
        fail(err);
      });
  });
} else {
  const source = new Readable({
    highWaterMark: 512 * 1024,
    read() {
      send({ type: 'pull' });
    },
  });
  port.on('message', (msg: ToThread) => {
    if (msg.type === 'chunk') source.push(bytesOf(msg.chunk));
    else if (msg.type === 'end') source.push(null);
  });
  const work =
    spec.mode === 'read'
      ? readBlocks(source, spec.format, {
          header: (cells) => send({ type: 'header', cells }),
          block: (chunk, place) => send({ type: 'block', chunk, ...place }, [chunk.buffer as ArrayBuffer]),
        })
      : analyseCsv(source, spec.columns, spec.tmpDir);
  work.then((value) => send({ type: 'result', value }), fail);
}
