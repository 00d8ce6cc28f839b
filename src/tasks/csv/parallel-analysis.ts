import type { Readable } from 'node:stream';
import type { FieldType } from './field-types.js';
import type { AnalysisReport } from './reports.js';
import { runCsvThreads } from './thread-host.js';

/**
 * Analysis across threads: each reads all of validated.csv (reading is the cheap part) and describes its
 * share of the columns (the statistics are the dear part), so a column's values never need merging.
 * Columns are dealt out by index; the reports are put back in column order.
 */
export async function analyseInThreads(columns: { name: string; type: FieldType }[], input: Readable, tmpDir: string, signal: AbortSignal, threads: number): Promise<AnalysisReport> {
  const of = Math.max(1, Math.min(threads, columns.length));
  const specs = Array.from({ length: of }, (_, index) => ({ mode: 'analyse' as const, columns, tmpDir, share: { index, of } }));
  const reports = await runCsvThreads(specs, input, signal);
  return {
    rows: reports[0]!.rows,
    columns: columns.map((_, i) => reports[i % of]!.columns[Math.floor(i / of)]!),
  };
}
