import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { TableSchema } from '../options.js';
import { readDelimiter, type CsvFormat } from '../read/sniff.js';
import type { CsvPool } from '../threads/csv-pool.js';
import { CsvThread, runCsvThread, threadGroup } from '../threads/thread-host.js';
import type { BlockPlace, FromThread, OutputName, ThreadSpec, ValidationCounts } from '../threads/thread-protocol.js';
import { hasUniqueConstraint } from '../schema/schema.js';
import { RowValidator } from './validator.js';

/** Blocks (of about 1 MiB) held at once, queued, being checked or waiting to be written in order, per checker. */
const blocksPerChecker = 3;

type Block = { index: number; chunk: Uint8Array } & BlockPlace;
type Checked = Extract<FromThread, { type: 'checked' }>;

/**
 * Validation across threads. A reader thread decodes the input and cuts it into blocks of whole records
 * (read/block-reader.ts); `pool.checkers` checker threads validate blocks side by side; this thread hands blocks out, writes
 * each block's outputs in file order and adds up the counts. The result is the one a single pass gives,
 * byte for byte (rows are numbered from each block's first row, inference states merge). A schema with a
 * `unique` constraint gets one checker, since the values seen must be one set, in file order.
 *
 * Memory stays flat: the reader gets input only while fewer than `blocksPerChecker` blocks per checker
 * are held and the outputs are not full.
 */
export async function validateInThreads(
  format: CsvFormat,
  schema: TableSchema | undefined,
  input: Readable,
  outputs: Record<OutputName, Writable>,
  signal: AbortSignal,
  pool: CsvPool,
): Promise<ValidationCounts> {
  const checkerCount = hasUniqueConstraint(schema) ? 1 : Math.max(1, pool.checkers);
  const checkers: { thread: CsvThread<Extract<ThreadSpec, { mode: 'check' }>>; busy: number }[] = [];
  const queued: Block[] = [];
  const finished = new Map<number, Checked>();
  const totals = { rowsRead: 0, rowsValid: 0, rowsRejected: 0 };
  let header: string[] | undefined;
  let received = 0;
  let written = 0;
  // Wakes whoever waits for progress (the reader's backpressure, the final drain).
  let progressed: (() => void) | undefined;
  const progress = () => {
    progressed?.();
    progressed = undefined;
  };
  const nextProgress = () => new Promise<void>((resolve) => (progressed = resolve));

  const dispatch = () => {
    while (queued.length > 0) {
      const checker = checkers.reduce<(typeof checkers)[number] | undefined>((best, c) => (c.busy < 2 && (!best || c.busy < best.busy) ? c : best), undefined);
      if (!checker) return;
      const block = queued.shift()!;
      checker.busy += 1;
      checker.thread.post({ type: 'block', ...block }, [block.chunk.buffer as ArrayBuffer]);
    }
  };
  const writeInOrder = () => {
    for (let next = finished.get(written); next; next = finished.get(written)) {
      finished.delete(written);
      written += 1;
      if (next.validated.byteLength > 0) outputs['validated.csv'].write(Buffer.from(next.validated.buffer, next.validated.byteOffset, next.validated.byteLength));
      if (next.rejects.byteLength > 0) outputs['rejects.jsonl'].write(Buffer.from(next.rejects.buffer, next.rejects.byteOffset, next.rejects.byteLength));
      totals.rowsRead += next.counts.rowsRead;
      totals.rowsValid += next.counts.rowsValid;
      totals.rowsRejected += next.counts.rowsRejected;
    }
    progress();
  };
  const startCheckers = (cells: string[]) => {
    header = cells;
    for (let i = 0; i < checkerCount; i += 1) {
      const checker = {
        thread: new CsvThread(pool, { mode: 'check', header: cells, schema, delimiter: readDelimiter(format) }, (msg) => {
          if (msg.type !== 'checked') return;
          checker.busy -= 1;
          finished.set(msg.index, msg);
          writeInOrder();
          dispatch();
        }),
        busy: 0,
      };
      checker.thread.result.catch(group.fail);
      checkers.push(checker);
    }
  };
  const held = () => received - written;

  // The reader stops with the task, and also when a checker fails first (it must not read on alone).
  const group = threadGroup(signal, 'CSV validation');
  const { race } = group;
  const reading = runCsvThread(pool, { mode: 'read', format }, input, group.stop, {
    message(msg) {
      if (msg.type === 'header') startCheckers(msg.cells);
      else if (msg.type === 'block') {
        const { type: _, ...block } = msg;
        queued.push({ index: received, ...block });
        received += 1;
        dispatch();
      }
    },
    async ready(stop) {
      for (;;) {
        if (stop.aborted) return;
        if (held() >= blocksPerChecker * checkerCount) await race(nextProgress());
        else if (outputs['validated.csv'].writableNeedDrain) await once(outputs['validated.csv'], 'drain', { signal: stop });
        else if (outputs['rejects.jsonl'].writableNeedDrain) await once(outputs['rejects.jsonl'], 'drain', { signal: stop });
        else return;
      }
    },
  });
  try {
    await race(reading);
    while (written < received) await race(nextProgress());
    for (const c of checkers) c.thread.post({ type: 'finish' });
    const results = await race(Promise.all(checkers.map((c) => c.thread.result)));
    // readBlocks refuses a file without a header, so checkers exist here.
    const applied = RowValidator.applied(header!, schema, results.map((r) => r.inference));
    return { ...totals, schema: applied };
  } finally {
    group.release();
    await reading.catch(() => undefined);
    await Promise.all(checkers.map((c) => c.thread.terminate()));
  }
}
