import { finished } from 'node:stream/promises';
import { CsvError, parse, type InfoRecord, type Options, type Parser } from 'csv-parse';
import { BadInputError } from '../../../contract/errors.js';
import { csvLimits } from './limits.js';
import type { RecordHandler } from './record-handler.js';

/** Thrown from on_record to stop csv-parse at its first good record. */
const found = Symbol('a good record');
/**
 * Longest run of records csv-parse cannot read, without one it can, that a file may hold. No record
 * boundary is known inside such a run, so a reader cutting the file into blocks would have to hold all of
 * it; and text this broken is broken throughout, not a few bad rows.
 */
const maxUnreadableRunBytes = 8 * 1024 * 1024;
/** More than csv-parse ever holds back between writes (a CR LF, a doubled quote). */
const lookBehind = 8;

/**
 * One csv-parse run from a record boundary. csv-parse holds no state at a record boundary, so what it reads
 * from there is what a single run over the whole file reads. Its stream is written synchronously (records
 * go out through on_record, nothing is pushed, so each write is transformed at once) and its records and
 * skips reach the handler as it reads them. On its first good record it stops and `feed` returns the bytes
 * after that record, for the fast path.
 */
export class Stretch {
  readonly parser: Parser;
  lineAfter = 0;
  private fed = 0;
  /** The last bytes fed before the current piece: csv-parse may hold a record's line break back for look-ahead. */
  private tail = Buffer.alloc(0);
  private stopAt = -1;
  private failure: unknown;
  /** Where the last good record ended (bytes fed) and the line after it: the start of a run of unreadable ones. */
  private lastRecordEnd = 0;
  private lastRecordLine: number;
  /** The line of the last skip, and how many skips it has had. */
  private skipLine = 0;
  private skipsOnLine = 0;

  constructor(
    options: Options,
    firstLine: number,
    handler: RecordHandler,
    private toTheEnd: boolean,
    atRecordEnd?: (bytes: number, line: number) => void,
  ) {
    this.lastRecordLine = firstLine;
    const line = (error: CsvError) => firstLine + (error.lines as number) - 1;
    const reading: Options = {
      ...options,
      on_record: (cells: string[], info: InfoRecord) => {
        this.guard(() => handler.record(cells, undefined));
        this.lastRecordEnd = info.bytes;
        this.lastRecordLine = firstLine + info.lines;
        if (this.toTheEnd) atRecordEnd?.(info.bytes, firstLine + info.lines);
        else {
          this.stopAt = info.bytes;
          this.lineAfter = firstLine + info.lines;
          throw found;
        }
        return null;
      },
      on_skip: (error: CsvError | undefined): undefined => {
        this.guard(() => {
          if (error?.code === 'CSV_MAX_RECORD_SIZE') throw lineTooLong(line(error));
          if (error) this.countSkip(line(error));
          handler.skipped(error ? describeSkip(error, line(error)) : 'unreadable record');
        });
      },
    };
    this.parser = parse(reading);
    // Abandoned at the first good record (by throwing `found`): that error is expected; others surface through `failure`.
    this.parser.on('error', (err) => {
      if ((err as unknown) !== found && this.failure === undefined) this.failure = err;
    });
    this.parser.resume();
  }

  /** Reads `bytes`; returns what follows the first good record, or undefined while there is none yet. */
  feed(bytes: Buffer): Buffer | undefined {
    const start = this.fed;
    this.fed += bytes.length;
    this.parser.write(bytes);
    if (this.failure !== undefined) throw this.failure;
    if (this.fed - this.lastRecordEnd > maxUnreadableRunBytes) {
      throw new BadInputError(
        'CSV_MALFORMED',
        `From line ${this.lastRecordLine} on, ${maxUnreadableRunBytes / 1024 ** 2} MiB of text hold no record that can be read: the quoting is broken throughout (a quote that does not close where it should). Fix the file's quoting.`,
      );
    }
    if (this.stopAt >= start) return bytes.subarray(this.stopAt - start);
    if (this.stopAt >= 0) return Buffer.concat([this.tail.subarray(this.tail.length - (start - this.stopAt)), bytes]);
    this.tail = Buffer.concat([this.tail, bytes.subarray(-lookBehind)]).subarray(-lookBehind);
    return undefined;
  }

  /** The end of the file: csv-parse reads what it held back for look-ahead. */
  async finish(): Promise<void> {
    this.toTheEnd = true;
    this.parser.end();
    try {
      await finished(this.parser);
    } catch (err) {
      throw this.failure ?? err;
    }
    if (this.failure !== undefined) throw this.failure;
  }

  private countSkip(at: number): void {
    if (at !== this.skipLine) [this.skipLine, this.skipsOnLine] = [at, 0];
    this.skipsOnLine += 1;
    if (this.skipsOnLine > csvLimits.maxSkipsPerLine) {
      throw new BadInputError(
        'CSV_MALFORMED',
        `Line ${at} has more than ${csvLimits.maxSkipsPerLine} quotes out of place (inside an unquoted value, or text after a closing quote): it is no row of data. Fix the file's quoting.`,
      );
    }
  }

  /** A handler's (or our own) error inside csv-parse's callbacks is kept and rethrown to the caller of feed/finish. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.failure ??= err;
      throw err;
    }
  }
}

/** csv-parse's reason for a skipped record, in words a person can act on, with the line in the whole file. */
export function describeSkip(error: { code: string; column?: unknown; message: string }, line: number): string {
  switch (error.code) {
    case 'INVALID_OPENING_QUOTE':
      return `a quote inside an unquoted value (line ${line}, field ${Number(error.column) + 1}): quote the whole value and double the quotes inside it`;
    case 'CSV_INVALID_CLOSING_QUOTE':
      return `text follows a closing quote (line ${line}): double the quotes inside a quoted value; the record runs on to the next quote that closes a value, so later lines may have been read into it`;
    case 'CSV_QUOTE_NOT_CLOSED':
      return `a quoted value opened near line ${line} is never closed: the rest of the file was read into it`;
    default:
      return `${error.message.replace(/ at line \d+| on line \d+/, '')} (line ${line})`;
  }
}

/** A csv-parse error as its code and line: its message may quote the value at fault, which is not repeated. */
export function csvParseWhere(err: { code?: unknown; lines?: unknown }): string {
  const code = typeof err.code === 'string' ? err.code : 'error';
  return typeof err.lines === 'number' ? `${code} near line ${err.lines}` : code;
}

function lineTooLong(line: number): BadInputError {
  return new BadInputError(
    'CSV_LINE_TOO_LONG',
    `A record near line ${line} is longer than ${csvLimits.maxRecordChars} characters. Check for a quote that is never closed or a missing line break; split very long values out of the CSV.`,
  );
}

