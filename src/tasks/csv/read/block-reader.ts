import { Transform, type Readable } from 'node:stream';
import { BadInputError } from '../../../contract/errors.js';
import { decodingStages } from './decode.js';
import type { LineEnding } from './record-scanner.js';
import { streamRecords } from './record-stream.js';
import { checkHeader, readDelimiter, type CsvFormat } from './sniff.js';
import type { BlockPlace, ReadResult } from '../threads/thread-protocol.js';

/** Size a block grows to before it is cut: large enough that a block's overhead is noise, small enough to keep memory flat. */
const blockBytes = 1024 * 1024;
export interface BlockSink {
  /** The header, as soon as it is read (checkers need it before the first block). */
  header(cells: string[]): void;
  /** Decoded UTF-8 text of whole records, in file order; `bytes` is the caller's to keep. */
  block(bytes: Uint8Array, place: BlockPlace): void;
}

/**
 * Validation's first pass: decodes the input (gunzip, encoding) and reads its records exactly as
 * checking will (record-stream.ts), only to know where records end, how many rows precede each point
 * and on which line it is. It cuts the decoded text into blocks of whole records, so checkers can read
 * blocks on their own, in parallel, and reach the same records, rows and line numbers as one pass over
 * the whole file. Refuses a file with no records (CSV_EMPTY) or no data rows (CSV_HEADER_ONLY).
 */
export async function readBlocks(source: Readable, format: CsvFormat, sink: BlockSink): Promise<ReadResult> {
  let header: string[] | undefined;
  let rows = 0;
  let ending: LineEnding | undefined;
  let place = { firstRow: 0, firstLine: 1 + format.skipLines, withHeader: false };
  // Decoded bytes from offset `pendingStart` on; the recorder may run ahead of reading, so cuts go by offset.
  const pending: Buffer[] = [];
  let pendingStart = 0;
  let recorded = 0;
  const recorder = new Transform({
    transform(chunk: Buffer, _enc, done) {
      pending.push(chunk);
      recorded += chunk.length;
      done(null, chunk);
    },
  });

  /** Sends the decoded text up to `offset` as a block. */
  const emit = (offset: number) => {
    // One copy, straight into a fresh buffer the receiver can own (transfer); the rest stays where it is.
    const block = new Uint8Array(offset - pendingStart);
    let at = 0;
    while (at < block.length) {
      const chunk = pending[0]!;
      const take = Math.min(chunk.length, block.length - at);
      block.set(take === chunk.length ? chunk : chunk.subarray(0, take), at);
      at += take;
      if (take === chunk.length) pending.shift();
      else pending[0] = chunk.subarray(take);
    }
    sink.block(block, { ...place, ending });
    pendingStart = offset;
  };

  await streamRecords(
    source,
    [...decodingStages(format), recorder],
    readDelimiter(format),
    {
      record(cells) {
        if (header) {
          rows += 1;
          return;
        }
        checkHeader(cells);
        header = cells;
        place.withHeader = true;
        sink.header(cells);
      },
      skipped() {
        rows += 1;
      },
    },
    {
      cellsOfFirstOnly: true,
      // Lines skipped above the header still count, so reasons name lines of the file as uploaded.
      firstLine: 1 + format.skipLines,
      boundary(offset, line, found) {
        ending = found;
        if (offset - pendingStart < blockBytes) return;
        emit(offset);
        place = { firstRow: rows, firstLine: line, withHeader: false };
      },
    },
  );
  if (!header) throw new BadInputError('CSV_EMPTY', 'The file has no records, not even a header line. Upload a CSV with a header line and data rows.');
  if (rows === 0) throw new BadInputError('CSV_HEADER_ONLY', 'The file has a header line but no data rows. Add rows below the header.');
  if (recorded > pendingStart) emit(recorded);
  return { rows };
}
