/**
 * The task a pool thread runs (see csv-pool.ts), one at a time, over the task's own port. The reader gets
 * input as transferred chunks, one per 'pull' its source sends when it wants more; a checker gets blocks
 * and answers each with its outputs; an analysis part gets blocks of whole records and answers each when
 * it is done with it. Every outcome, the result or a failure, goes over the port (after the blocks it
 * follows, which the pool's own channel would not keep in order).
 */
import { Readable } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';
import { AnalysisPart, transferablesOf } from '../analyse/analyser.js';
import { readBlocks } from '../read/block-reader.js';
import { streamRecords } from '../read/record-stream.js';
import type { PoolTask } from './csv-pool.js';
import type { FromThread, ThreadSpec, ToThread } from './thread-protocol.js';
import { OutputText, RowValidator } from '../validate/validator.js';

const bytesOf = (chunk: Uint8Array) => Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);

function failure(err: unknown): FromThread {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  return { type: 'failed', name: e.name, code: typeof code === 'string' ? code : undefined, message: e.message };
}

/** A checker: blocks are checked one at a time, in the order they arrive, until 'finish'. */
function check(spec: Extract<ThreadSpec, { mode: 'check' }>, port: MessagePort, send: (msg: FromThread, transfer?: ArrayBuffer[]) => void): Promise<void> {
  const { header, schema, delimiter } = spec;
  let validator: RowValidator | undefined;
  let work = Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    port.on('close', () => reject(new Error('CSV task channel closed')));
    port.on('message', (msg: ToThread) => {
      work = work.then(async () => {
        validator ??= new RowValidator(header, schema, delimiter);
        if (msg.type === 'finish') {
          send({ type: 'result', value: { inference: validator.inferenceStates() } });
          return resolve();
        }
        if (msg.type !== 'block') return;
        const out = { validated: new OutputText(), rejects: new OutputText() };
        const { handler, counts } = validator.block(msg, out);
        await streamRecords(Readable.from([bytesOf(msg.chunk)]), [], delimiter, handler, { ...(msg.ending ? { ending: msg.ending } : {}), firstLine: msg.firstLine });
        // Fresh buffers of their own, safe to transfer, joined from the bytes without a string between.
        const validated = out.validated.bytes();
        const rejects = out.rejects.bytes();
        send({ type: 'checked', index: msg.index, validated, rejects, counts }, [validated.buffer as ArrayBuffer, rejects.buffer as ArrayBuffer]);
      });
      // A failure ends the task's work: later blocks are not checked.
      work.catch(reject);
    });
  });
}

/** An analysis part: blocks of whole records, each answered when done, until 'finish' or 'summarise'. */
function analyse(spec: Extract<ThreadSpec, { mode: 'analyse' }>, port: MessagePort, send: (msg: FromThread, transfer?: ArrayBuffer[]) => void): Promise<void> {
  const part = new AnalysisPart(spec.columns, spec.tmpDir, spec.part, spec.parts);
  return new Promise<void>((resolve, reject) => {
    let failed = false;
    port.on('close', () => reject(new Error('CSV task channel closed')));
    port.on('message', (msg: ToThread) => {
      // A failure ends the task's work: later blocks are not read.
      if (failed) return;
      try {
        if (msg.type === 'rows') {
          part.block(bytesOf(msg.chunk), msg.index, msg.offset);
          send({ type: 'analysed', index: msg.index, chunk: msg.chunk }, [msg.chunk.buffer as ArrayBuffer]);
        } else if (msg.type === 'finish') {
          const partial = part.partial();
          send({ type: 'result', value: { kind: 'partial', partial } }, transferablesOf(partial));
          resolve();
        } else if (msg.type === 'summarise') {
          send({ type: 'result', value: { kind: 'report', report: part.report(msg.others) } });
          resolve();
        }
      } catch (err) {
        failed = true;
        reject(err);
      }
    });
  });
}

/** The reader: input arrives chunk by chunk, one per 'pull'. */
async function read(spec: Extract<ThreadSpec, { mode: 'read' }>, port: MessagePort, send: (msg: FromThread, transfer?: ArrayBuffer[]) => void): Promise<void> {
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
  port.on('close', () => source.destroy(new Error('CSV task channel closed')));
  const value = await readBlocks(source, spec.format, {
    header: (cells) => send({ type: 'header', cells }),
    block: (chunk, place) => send({ type: 'block', chunk, ...place }, [chunk.buffer as ArrayBuffer]),
  });
  send({ type: 'result', value });
}

export default async function csvThreadTask({ spec, port }: PoolTask): Promise<void> {
  const send = (msg: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
  try {
    await (spec.mode === 'check' ? check(spec, port, send) : spec.mode === 'analyse' ? analyse(spec, port, send) : read(spec, port, send));
  } catch (err) {
    send(failure(err));
  }
  // The host closes the port once it has the outcome: closing it here could drop what was just sent.
}
