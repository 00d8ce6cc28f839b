// The record handler a reader delivers to; record-stream.ts and csv-parse-stretch.ts both import it from here.

/**
 * Where the record being delivered lies in the text read, when that text is already as validated.csv
 * writes it (so a valid row that normalisation leaves alone is copied, and consecutive ones in one
 * piece). Valid during the `record` call only.
 */
export interface RecordText {
  /** The text read; `textId` changes whenever it does. */
  readonly text: string;
  readonly textId: number;
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
}
