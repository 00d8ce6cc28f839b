import { Writable, type Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CsvError, type Options } from 'csv-parse';
import { BadInputError } from '../../../contract/errors.js';
import { csvParseWhere, describeSkip, Stretch } from './csv-parse-stretch.js';
import { csvLimits } from './limits.js';
import type { RecordHandler } from './record-handler.js';
import { discoverEnding, INCOMPLETE, RecordScanner, type LineEnding } from './record-scanner.js';

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

/** The fast path's length bound: a record this long (in UTF-16 units, at most 3 bytes each) cannot reach csv-parse's byte bound. */
const fastMaxChars = Math.floor(csvLimits.maxRecordChars / 3);
/** Lines of text csv-parse is first given at an irregular record: enough for a stray quote, which it closes at the line end. */
const firstPieceLines = 4;
class RecordSink extends Writable {
  private rest = '';
  /** csv-parse's line number where `rest` starts. */
  private line = 1;
  private scanner: RecordScanner | undefined;
  private ending: LineEnding | '\r' | undefined;
  /** Handed with each record already in validated.csv's form; one object, updated, so nothing is allocated per record. */
  private readonly copy = { text: '', textId: 0, start: 0, end: 0, lf: true };
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
      this.scanner = new RecordScanner(delimiter, options.ending, fastMaxChars);
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.received += chunk.length;
    try {
      if (this.stretch) {
        const after = this.stretch.feed(chunk);
        if (after === undefined) return done();
        this.endStretch();
        // The decoding stages pass whole UTF-8 characters only, so each chunk (and its tail) decodes on its own.
        this.read(after.toString('utf8'), false);
      } else this.read(chunk.toString('utf8'), false);
      if (!this.stretch && this.scanner) this.options.boundary?.(this.received - Buffer.byteLength(this.rest, 'utf8'), this.line, this.scanner.ending);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _final(done: (err?: Error | null) => void): void {
    try {
      if (!this.stretch) this.read('', true);
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

  /** Reads what it can of `rest` + `text` on the fast path; keeps the unfinished tail. */
  private read(text: string, final: boolean): void {
    const s = this.rest.length > 0 ? this.rest + text : text;
    this.rest = '';
    if (!this.scanner) {
      this.ending = discoverEnding(s, this.delimiter, final);
      if (this.ending === '\n' || this.ending === '\r\n') this.scanner = new RecordScanner(this.delimiter, this.ending, fastMaxChars);
      else if (this.ending === '\r' || final || s.length > csvLimits.maxRecordChars) {
        // Records ending in a lone CR, a file without a line break, or a first record that will not end: csv-parse reads it all.
        this.startStretch(true, s, 0).feed(Buffer.from(s, 'utf8'));
        return;
      } else {
        this.rest = s;
        return;
      }
    }
    const scanner = this.scanner;
    scanner.begin();
    this.copy.text = s;
    this.copy.textId += 1;
    this.copy.lf = this.ending === '\n';
    let p = 0;
    while (p < s.length) {
      const next = scanner.scan(s, p);
      if (next >= 0) {
        if (scanner.strays.length > 0) {
          // csv-parse reports each quote inside an unquoted value, then drops the record (see RecordScanner.strays).
          for (const field of scanner.strays) this.handler.skipped(describeSkip({ code: 'INVALID_OPENING_QUOTE', column: field, message: '' }, this.line));
        } else if (!scanner.empty) {
          if (scanner.canonical) {
            this.copy.start = p;
            this.copy.end = scanner.textEnd;
          }
          this.handler.record(scanner.cells, scanner.canonical ? this.copy : undefined);
          if (this.options.cellsOfFirstOnly) scanner.splitting = false;
        }
        this.line += scanner.lines;
        p = next;
        continue;
      }
      if (next === INCOMPLETE && !final) break;
      // Irregular (or the file's unfinished end): csv-parse reads from here, a piece at a time, until it has read a good record.
      const stretch = this.startStretch(final, s, p);
      let end = lineEndAfter(s, p, firstPieceLines);
      let from = p;
      for (;;) {
        const after = stretch.feed(Buffer.from(s.slice(from, end), 'utf8'));
        if (after !== undefined) {
          this.endStretch();
          p = end - after.toString('utf8').length;
          break;
        }
        if (end === s.length) return;
        from = end;
        end = lineEndAfter(s, Math.min(s.length, end + 2 * (end - p)), 1);
      }
    }
    this.rest = s.slice(p);
  }

  /**
   * csv-parse takes over at a record boundary, `from` being the text read from there on; unless `toTheEnd`,
   * it hands back after its first good record. Reading to the end, it reports each good record's end as a
   * boundary, so a file csv-parse reads whole (lone-CR line breaks) can still be cut into blocks.
   */
  private startStretch(toTheEnd: boolean, s: string, from: number): Stretch {
    const boundary = this.options.boundary;
    let atRecordEnd: ((bytes: number, line: number) => void) | undefined;
    if (boundary && toTheEnd) {
      // Only then is the stretch's byte offset needed: measuring the rest of the text per broken record would not be free.
      const start = this.received - Buffer.byteLength(s.slice(from), 'utf8');
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
function lineEndAfter(s: string, from: number, n: number): number {
  let at = Math.min(from, s.length);
  for (let i = 0; i < n; i += 1) {
    const nl = s.indexOf('\n', at);
    if (nl < 0) return s.length;
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
