// The record handler a reader delivers to; record-stream.ts and csv-parse-stretch.ts both import it from here.
import type { RecordFields } from './record-scanner.js';

/**
 * Where the record being delivered lies in the text read, when that text is already as validated.csv
 * writes it (so a valid row that normalisation leaves alone is copied, and consecutive ones in one
 * piece). Valid during the `record` call only.
 */
export interface RecordText {
  /** The bytes read. */
  readonly text: Buffer;
  readonly start: number;
  /** Where the record's text ends, its line break excluded. */
  readonly end: number;
  /** Whether its line break is a lone LF, so text up to end + 1 is the record as written. */
  readonly lf: boolean;
}

export interface RecordHandler {
  /** Each record in file order, the header first. Throw to stop (a BadInputError fails the job). */
  record(cells: string[], copy: RecordText | undefined): void;
  /** A record csv-parse could not read (bad quoting), in its place in the order. */
  skipped(message: string): void;
  /**
   * A record the fast path delimited, as field ranges, before any cell is decoded: returns whether the
   * handler dealt with it from the bytes alone; if not, `record` follows with its cells.
   */
  fields?(record: RecordFields): boolean;
}
