import type { TableSchema } from '../../pipeline/messages.js';
import type { FieldType } from './field-types.js';
import type { AnalysisReport } from './reports.js';
import type { CsvFormat } from './sniff.js';

/** What the parsing thread is asked to do (its workerData). */
export type ThreadSpec =
  | { mode: 'validate'; format: CsvFormat; schema: TableSchema | undefined }
  | { mode: 'analyse'; columns: { name: string; type: FieldType }[]; tmpDir: string };

export interface ValidationCounts {
  rowsRead: number;
  rowsValid: number;
  rowsRejected: number;
  /** The schema applied, or the one inferred from the whole file. */
  schema: TableSchema;
}

export type ThreadResult<S extends ThreadSpec> = S extends { mode: 'validate' } ? ValidationCounts : AnalysisReport;

/** Output streams the thread writes, by output name. */
export type OutputName = 'validated.csv' | 'rejects.jsonl';

/** Main thread → parsing thread: input bytes, one chunk per credit. */
export type ToThread = { type: 'chunk'; chunk: Uint8Array } | { type: 'end' };

/** Parsing thread → main thread. */
export type FromThread =
  | { type: 'pull' }
  | { type: 'output'; name: OutputName; chunk: Uint8Array }
  | { type: 'result'; value: ValidationCounts | AnalysisReport }
  | { type: 'failed'; name: string; code: string | undefined; message: string };
