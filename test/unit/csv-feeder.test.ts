import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { MessagePort } from 'node:worker_threads';
import { pieceBytes, runCsvThread, type ThreadRunner } from '../../src/tasks/csv/threads/thread-host.js';
import type { FromThread, ThreadSpec, ToThread } from '../../src/tasks/csv/threads/thread-protocol.js';
import { sniffCsv } from '../../src/tasks/csv/read/sniff.js';

/**
 * A stand-in for a pool thread, on this thread: it asks for a piece ('pull'), takes `delayMs` over each one,
 * then asks again, and answers the end with how many bytes it got. It records the most pieces it ever held
 * beyond those it asked for: a feeder that sends without a credit shows there.
 */
class SlowThread implements ThreadRunner {
  unasked = 0;
  pieces: number[] = [];

  constructor(private readonly delayMs: number) {}

  run(_spec: ThreadSpec, port: MessagePort): Promise<unknown> {
    const send = (msg: FromThread) => port.postMessage(msg);
    let asked = 0;
    let bytes = 0;
    return new Promise<void>((resolve) => {
      port.on('message', (msg: ToThread) => {
        if (msg.type === 'chunk') {
          this.pieces.push(msg.chunk.byteLength);
          bytes += msg.chunk.byteLength;
          this.unasked = Math.max(this.unasked, this.pieces.length - asked);
          setTimeout(() => {
            asked += 1;
            send({ type: 'pull' });
          }, this.delayMs);
        } else if (msg.type === 'end') {
          send({ type: 'result', value: { rows: bytes } });
          resolve();
        }
      });
      asked += 1;
      send({ type: 'pull' });
    });
  }

  heapLimitMb(): number | undefined {
    return undefined;
  }
}

test('the feeder sends a piece only for a credit the thread granted, however fast the input comes', async () => {
  const thread = new SlowThread(20);
  const input = Buffer.alloc(5 * pieceBytes + 1234, 0x61);
  // 64 KiB chunks, all available at once: only the credits hold the feeder back.
  const chunks = Readable.from((function* () {
    for (let at = 0; at < input.length; at += 65536) yield input.subarray(at, at + 65536);
  })());
  // The stand-in reads nothing of the spec; a real one keeps the types honest.
  const format = sniffCsv({ bytes: Buffer.from('a,b\n1,2\n'), gzip: false, complete: true });
  const result = await runCsvThread(thread, { mode: 'read', format }, chunks, new AbortController().signal);
  assert.equal(thread.unasked, 0, 'a piece arrived that the thread had not asked for');
  assert.deepEqual(thread.pieces, [pieceBytes, pieceBytes, pieceBytes, pieceBytes, pieceBytes, 1234]);
  assert.equal(result.rows, input.length);
});
