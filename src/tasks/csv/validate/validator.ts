import type { TableSchema } from '../options.js';
import { csvLine } from '../read/csv-text.js';
import { TypeInference, type InferenceState } from '../schema/field-types.js';
import type { RecordHandler, RecordText } from '../read/record-handler.js';
import type { RejectLine } from '../reports.js';
import { compileSchema, defaultMissingValues, schemaInHeaderOrder, type CompiledSchema } from '../schema/schema.js';

/** A block's output text: written pieces, and runs of input records copied as they are, joined once. */
export class OutputText {
  private readonly parts: string[] = [];
  private run = { text: '', textId: -1, start: 0, end: -1 };

  write(text: string): void {
    this.endRun();
    this.parts.push(text);
  }

  /** The record's own text and a LF; a record that follows the last one copied extends the same slice. */
  copy(record: RecordText): void {
    const run = this.run;
    if (!record.lf) return this.write(record.text.slice(record.start, record.end) + '\n');
    if (record.textId === run.textId && record.start === run.end) {
      run.end = record.end + 1;
      return;
    }
    this.endRun();
    this.run = { text: record.text, textId: record.textId, start: record.start, end: record.end + 1 };
  }

  take(): string {
    this.endRun();
    const text = this.parts.join('');
    this.parts.length = 0;
    return text;
  }

  private endRun(): void {
    if (this.run.end < 0) return;
    this.parts.push(this.run.text.slice(this.run.start, this.run.end));
    this.run = { text: '', textId: -1, start: 0, end: -1 };
  }
}

/** Where a block's outputs go. */
export interface BlockOutputs {
  validated: OutputText;
  rejects: OutputText;
}

/** Rows of one block, as counted into validation.json. */
export interface RowCounts {
  rowsRead: number;
  rowsValid: number;
  rowsRejected: number;
}

/** Where a block starts in the file: rows before it, and whether the header is its first record. */
export interface BlockStart {
  firstRow: number;
  withHeader: boolean;
}

/**
 * Validates data rows and writes valid ones to validated.csv, rejected ones to rejects.jsonl. A row with
 * more or fewer fields than the header is rejected as a whole. With a schema each row goes through the
 * compiled zod tuple and comes out normalised; without one, rows are kept as they are and each column's
 * type is inferred. One RowValidator serves the blocks a checking thread is given, in any order: rows
 * are numbered from each block's start, and inference states from all threads merge.
 */
export class RowValidator {
  private readonly compiled: CompiledSchema | undefined;
  private readonly inference: TypeInference[];
  private readonly missing: ReadonlySet<string>;

  constructor(
    private readonly header: readonly string[],
    schema: TableSchema | undefined,
    private readonly delimiter: string,
  ) {
    this.compiled = schema ? compileSchema(schema, header) : undefined;
    this.inference = schema ? [] : header.map(() => new TypeInference());
    this.missing = new Set(schema?.missingValues ?? defaultMissingValues);
  }

  /** The record handler for one block; `counts` fills as the block is read. */
  block(start: BlockStart, out: BlockOutputs): { handler: RecordHandler; counts: RowCounts } {
    const counts: RowCounts = { rowsRead: 0, rowsValid: 0, rowsRejected: 0 };
    const { header, compiled, inference, missing, delimiter } = this;
    let expectHeader = start.withHeader;
    const reject = (line: Omit<RejectLine, 'row'>) => {
      counts.rowsRejected += 1;
      out.rejects.write(JSON.stringify({ row: start.firstRow + counts.rowsRead, ...line } satisfies RejectLine) + '\n');
    };
    const handler: RecordHandler = {
      record(cells, copy) {
        if (expectHeader) {
          expectHeader = false;
          out.validated.write(csvLine(header));
          return;
        }
        counts.rowsRead += 1;
        if (cells.length !== header.length) {
          return reject({ column: null, value: cells.join(delimiter), error: `row has ${cells.length} fields, the header has ${header.length}` });
        }
        if (compiled) {
          const result = compiled.check(cells);
          if (!Array.isArray(result)) return reject(result);
          // A row already in validated.csv's form that normalisation left alone is copied, not rewritten.
          if (copy && unchanged(cells, result)) out.validated.copy(copy);
          else out.validated.write(csvLine(result));
        } else {
          for (let i = 0; i < cells.length; i += 1) {
            const cell = cells[i] as string;
            if (!missing.has(cell)) inference[i]!.observe(cell);
          }
          if (copy) out.validated.copy(copy);
          else out.validated.write(csvLine(cells));
        }
        counts.rowsValid += 1;
      },
      skipped(message) {
        counts.rowsRead += 1;
        reject({ column: null, value: null, error: message });
      },
    };
    return { handler, counts };
  }

  /** What inference has seen so far (empty with a schema), to merge with other threads'. */
  inferenceStates(): InferenceState[] {
    return this.inference.map((i) => i.state());
  }

  /** The schema as applied: the given one in header order, or the types inferred from all threads' states. */
  static applied(header: readonly string[], schema: TableSchema | undefined, states: InferenceState[][]): TableSchema {
    if (schema) return schemaInHeaderOrder(schema, header);
    return {
      fields: header.map((name, i) => ({ name, type: TypeInference.merge(states.map((s) => s[i]!)).type })),
      missingValues: defaultMissingValues,
    };
  }
}

/** Whether every normalised cell is its raw cell (a missing one, null, is written empty as its raw '' is). */
function unchanged(cells: readonly string[], normalised: readonly (string | null)[]): boolean {
  for (let i = 0; i < cells.length; i += 1) {
    const value = normalised[i];
    if (value !== cells[i] && !(value === null && cells[i] === '')) return false;
  }
  return true;
}
