import type { TableSchema } from '../options.js';
import type { FieldType, InferenceState } from '../schema/field-types.js';
import type { LineEnding } from '../read/record-scanner.js';
import type { AnalysisReport } from '../reports.js';
import type { AnalysisPartial } from '../analyse/analyser.js';
import type { CsvFormat } from '../read/sniff.js';
import type { RowCounts } from '../validate/validator.js';

/** What a CSV thread is asked to do (its workerData). */
export type ThreadSpec =
  /** Validation's reader: decodes the input, reads its records exactly, cuts it into blocks of whole records. */
  | { mode: 'read'; format: CsvFormat }
  /** Validation's checkers: validate the blocks they are given. */
  | { mode: 'check'; header: string[]; schema: TableSchema | undefined; delimiter: string }
  /** Analysis: part `part` of `parts` that share validated.csv's blocks; part 0 merges the others and reports. */
  | { mode: 'analyse'; columns: { name: string; type: FieldType }[]; tmpDir: string; part: number; parts: number };

export interface ValidationCounts extends RowCounts {
  /** The schema applied, or the one inferred from the whole file. */
  schema: TableSchema;
}

export interface ReadResult {
  /** Data rows read (the header not counted), unreadable records included. */
  rows: number;
}

export interface CheckResult {
  inference: InferenceState[];
}

/** An analysis part's outcome: its share (asked with 'finish'), or the report (asked with 'summarise'). */
export type AnalysisResult = { kind: 'partial'; partial: AnalysisPartial } | { kind: 'report'; report: AnalysisReport };

export type ThreadResult<S extends ThreadSpec> = S extends { mode: 'read' } ? ReadResult : S extends { mode: 'check' } ? CheckResult : AnalysisResult;

/** Output streams of validation. */
export type OutputName = 'validated.csv' | 'rejects.jsonl';

/** Where a block of whole records starts in the file. */
export interface BlockPlace {
  /** Data rows before the block. */
  firstRow: number;
  /** csv-parse's line number of its first record. */
  firstLine: number;
  /** Whether the header is the block's first record. */
  withHeader: boolean;
  /** The file's record delimiter, once the reader has found it. */
  ending: LineEnding | undefined;
}

/** Main thread → a CSV thread. */
export type ToThread =
  /** Input bytes for the reader, one piece (up to thread-host's `pieceBytes`) per credit. */
  | { type: 'chunk'; chunk: Uint8Array }
  | { type: 'end' }
  /** A block for a checker, numbered in file order. */
  | ({ type: 'block'; index: number; chunk: Uint8Array } & BlockPlace)
  /** Whole records of validated.csv for an analysis part, numbered in file order, from byte `offset`. */
  | { type: 'rows'; index: number; offset: number; chunk: Uint8Array }
  /** No more blocks: a checker reports its result, an analysis part its partial. */
  | { type: 'finish' }
  /** No more blocks: analysis part 0 merges the other parts' partials and reports. */
  | { type: 'summarise'; others: AnalysisPartial[] };

/** A CSV thread → the main thread. */
export type FromThread =
  | { type: 'pull' }
  | { type: 'header'; cells: string[] }
  | ({ type: 'block'; chunk: Uint8Array } & BlockPlace)
  | { type: 'checked'; index: number; validated: Uint8Array; rejects: Uint8Array; counts: RowCounts }
  /** An analysis part is done with a block of rows, whose buffer it gives back: it may be sent another. */
  | { type: 'analysed'; index: number; chunk: Uint8Array }
  | { type: 'result'; value: ReadResult | CheckResult | AnalysisResult }
  | { type: 'failed'; name: string; code: string | undefined; message: string };
