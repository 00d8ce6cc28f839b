import { Writable, type Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CsvError, type Options } from 'csv-parse';
import { BadInputError } from '../../../contract/errors.js';
import { csvParseWhere, describeSkip, Stretch } from './csv-parse-stretch.js';
import { csvLimits } from './limits.js';
import type { RecordHandler } from './record-handler.js';
import { discoverEnding, INCOMPLETE, RecordScanner, type LineEnding } from './record-scanner.js';

const noCells: string[] = [];

/**
 * Streams bytes through the decoding stages and reads records exactly as csv-parse reads them (arrays, not
 * `columns`, so no field is ever dropped), handing them to `handler` in order.
 *
 * Plain RFC 4180 records take the fast path (record-scanner.ts). From a record the scanner will not read,
 * csv-parse reads on (see Stretch) until it has read a good record, and the fast path goes on after it. So
 * every irregular record is csv-parse's to judge, as before; tests compare the result with csv-parse alone
 * on random input.
 */
export async function streamRecords(source: Readable, stages: Transform[], delimiter: string, handler: RecordHandler, options: ReadOptions = {}): Promise<void> {
  try {
    await pipeline([source, ...stages, new RecordSink(delimiter, handler, options)]);
  } catch (err) {
    throw asBadInput(err);
  }
}

export interface ReadOptions {
  /** The file's record delimiter, when its reading started earlier (a block of a file read in parallel). */
  ending?: LineEnding;
  /** Only the first record is split into cells; later ones are only delimited (the handler gets no cells). */
  cellsOfFirstOnly?: boolean;
  /** csv-parse's line number of the first record: skip reasons name lines of the whole file. */
  firstLine?: number;
  /**
   * Called after an input chunk is read, when reading stands at a record boundary: `offset` is that
   * boundary's byte offset in the input, `line` the line number of the record that starts there.
   */
  boundary?: (offset: number, line: number, ending: LineEnding | undefined) => void;
}

/** The fast path's length bound: a record of this many bytes (so at most as many characters) cannot reach csv-parse's bound. */
const fastMaxBytes = Math.floor(csvLimits.maxRecordChars / 3);
/** Lines of text csv-parse is first given at an irregular record: enough for a stray quote, which it closes at the line end. */
const firstPieceLines = 4;
const noBytes: Buffer = Buffer.alloc(0);
class RecordSink extends Writable {
  private rest: Buffer = noBytes;
  /** csv-parse's line number where `rest` starts. */
  private line = 1;
  private scanner: RecordScanner | undefined;
  private ending: LineEnding | '\r' | undefined;
  /** Handed with each record already in validated.csv's form; one object, updated, so nothing is allocated per record. */
  private readonly copy: { text: Buffer; start: number; end: number; lf: boolean } = { text: noBytes, start: 0, end: 0, lf: true };
  /** Input bytes received so far. */
  private received = 0;
  /** csv-parse reading an irregular stretch, while it has not yet read a good record. */
  private stretch: Stretch | undefined;

  constructor(
    private readonly delimiter: string,
    private readonly handler: RecordHandler,
    private readonly options: ReadOptions,
  ) {
    super({ decodeStrings: true });
    this.line = options.firstLine ?? 1;
    if (options.ending) {
      this.ending = options.ending;
      this.scanner = new RecordScanner(delimiter, options.ending, fastMaxBytes);
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.received += chunk.length;
    try {
      if (this.stretch) {
        const after = this.stretch.feed(chunk);
        if (after === undefined) return done();
        this.endStretch();
        this.read(after, false);
      } else this.read(chunk, false);
      if (!this.stretch && this.scanner) this.options.boundary?.(this.received - this.rest.length, this.line, this.scanner.ending);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _final(done: (err?: Error | null) => void): void {
    try {
      if (!this.stretch) this.read(noBytes, true);
    } catch (err) {
      return done(err as Error);
    }
    if (!this.stretch) return done();
    this.stretch.finish().then(() => done(), done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.stretch?.parser.destroy();
    done(err);
  }

  /**
   * Reads what it can of `rest` + `bytes`; keeps the unfinished tail. The tail is joined with the chunk's
   * first line only, which mostly finishes its record, and the chunk is read in place from there: a copy
   * of every chunk would be megabytes of garbage outside the thread's bounded heap.
   */
  private read(bytes: Buffer, final: boolean): void {
    if (this.rest.length === 0 || !this.scanner || bytes.length === 0) return this.readText(bytes, final);
    const nl = bytes.indexOf(0x0a);
    const k = nl < 0 ? bytes.length : nl + 1;
    this.readText(bytes.subarray(0, k), final && k === bytes.length);
    if (k === bytes.length) return;
    let after: Buffer | undefined = bytes.subarray(k);
    if (this.stretch) {
      after = this.stretch.feed(after);
      if (after === undefined) return;
      this.endStretch();
    }
    this.readText(after, final);
  }

  /** Reads what it can of `rest` + `bytes` on the fast path; keeps the unfinished tail. */
  private readText(bytes: Buffer, final: boolean): void {
    const b = this.rest.length > 0 ? Buffer.concat([this.rest, bytes]) : bytes;
    this.rest = noBytes;
    if (!this.scanner) {
      this.ending = discoverEnding(b.toString('utf8'), this.delimiter, final);
      if (this.ending === '\n' || this.ending === '\r\n') this.scanner = new RecordScanner(this.delimiter, this.ending, fastMaxBytes);
      else if (this.ending === '\r' || final || b.length > csvLimits.maxRecordChars) {
        // Records ending in a lone CR, a file without a line break, or a first record that will not end: csv-parse reads it all.
        this.startStretch(true, b.length).feed(b);
        return;
      } else {
        this.rest = b;
        return;
      }
    }
    const scanner = this.scanner;
    const handler = this.handler;
    const copy = this.copy;
    copy.text = b;
    copy.lf = this.ending === '\n';
    let p = 0;
    while (p < b.length) {
      const next = scanner.scan(b, p);
      if (next >= 0) {
        if (scanner.strays.length > 0) {
          // csv-parse reports each quote inside an unquoted value, then drops the record (see RecordScanner.strays).
          for (const field of scanner.strays) handler.skipped(describeSkip({ code: 'INVALID_OPENING_QUOTE', column: field, message: '' }, this.line));
        } else if (!scanner.empty) {
          if (!scanner.splitting) handler.record(noCells, undefined);
          else {
            // The handler may judge the record from its bytes; if not, it gets the cells.
            if (!handler.fields?.(scanner)) {
              if (scanner.canonical) {
                copy.start = p;
                copy.end = scanner.textEnd;
              }
              handler.record(scanner.cells(), scanner.canonical ? copy : undefined);
            }
            if (this.options.cellsOfFirstOnly) scanner.splitting = false;
          }
        }
        this.line += scanner.lines;
        p = next;
        continue;
      }
      if (next === INCOMPLETE && !final) break;
      // Irregular (or the file's unfinished end): csv-parse reads from here, a piece at a time, until it has read a good record.
      const stretch = this.startStretch(final, b.length - p);
      let end = lineEndAfter(b, p, firstPieceLines);
      let from = p;
      for (;;) {
        const after = stretch.feed(b.subarray(from, end));
        if (after !== undefined) {
          this.endStretch();
          p = end - after.length;
          break;
        }
        if (end === b.length) return;
        from = end;
        end = lineEndAfter(b, Math.min(b.length, end + 2 * (end - p)), 1);
      }
    }
    // A copy: the tail must not keep the whole chunk alive.
    this.rest = p < b.length ? Buffer.from(b.subarray(p)) : noBytes;
  }

  /**
   * csv-parse takes over at a record boundary, `from` being the text read from there on; unless `toTheEnd`,
   * it hands back after its first good record. Reading to the end, it reports each good record's end as a
   * boundary, so a file csv-parse reads whole (lone-CR line breaks) can still be cut into blocks.
   */
  private startStretch(toTheEnd: boolean, restBytes: number): Stretch {
    const boundary = this.options.boundary;
    let atRecordEnd: ((bytes: number, line: number) => void) | undefined;
    if (boundary && toTheEnd) {
      const start = this.received - restBytes;
      const ending = this.ending === '\r' ? undefined : this.ending;
      atRecordEnd = (bytes, line) => boundary(start + bytes, line, ending);
    }
    this.stretch = new Stretch(this.parseOptions(), this.line, this.handler, toTheEnd, atRecordEnd);
    return this.stretch;
  }

  private endStretch(): void {
    this.line = this.stretch!.lineAfter;
    this.stretch = undefined;
  }

  private parseOptions(): Options {
    return {
      delimiter: this.delimiter,
      ...(this.ending === '\n' || this.ending === '\r\n' ? { record_delimiter: this.ending } : {}),
      relax_column_count: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      max_record_size: csvLimits.maxRecordChars,
    };
  }
}

/** Where the n-th LF at or after `from` ends, or the text's end. */
function lineEndAfter(b: Buffer, from: number, n: number): number {
  let at = Math.min(from, b.length);
  for (let i = 0; i < n; i += 1) {
    const nl = b.indexOf(0x0a, at);
    if (nl < 0) return b.length;
    at = nl + 1;
  }
  return at;
}

function asBadInput(err: unknown): unknown {
  if (err instanceof BadInputError) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new BadInputError('CSV_GZIP_CORRUPT', `The gzip data is corrupt or truncated (${(err as Error).message}). Compress the file again, or upload it uncompressed.`, { cause: err });
  }
  // csv-parse's messages may quote the value at fault: only its code and line are repeated.
  if (err instanceof CsvError) return new BadInputError('CSV_MALFORMED', `The CSV cannot be read (${csvParseWhere(err)}). Fix the file's quoting or line structure.`);
  return err;
}
