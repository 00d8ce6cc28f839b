import type { TableSchema } from '../options.js';
import { bytesNeedQuotes, csvCell, csvLine } from '../read/csv-text.js';
import { TypeInference, type InferenceState } from '../schema/field-types.js';
import type { RecordHandler, RecordText } from '../read/record-handler.js';
import { cellText, type RecordFields } from '../read/record-scanner.js';
import type { RejectLine } from '../reports.js';
import { compileSchema, defaultMissingValues, schemaInHeaderOrder, type CompiledSchema } from '../schema/schema.js';

const COMMA = 0x2c;
const LF = 0x0a;
const QUOTE = 0x22;
/** copyFields' per-field choices, reused. */
let fieldModes = new Uint8Array(64);

/** Where `OutputText.take` joins a block's pieces: one buffer per thread, grown to the largest block's output. */
let joined = Buffer.allocUnsafe(0);

/** A block's output text: written pieces, and runs of input records copied as they are, joined once. */
export class OutputText {
  private readonly parts: (string | Buffer)[] = [];
  /** The run of copied records being extended: bytes [runStart, runEnd) of `runText`. */
  private runText: Buffer | undefined;
  private runStart = 0;
  private runEnd = 0;

  write(text: string): void {
    this.endRun();
    this.parts.push(text);
  }

  /** The record's own text and a LF; a record that follows the last one copied extends the same slice. */
  copy(record: RecordText): void {
    if (!record.lf) {
      this.copyBytes(record.text, record.start, record.end);
      this.write('\n');
    } else this.copyBytes(record.text, record.start, record.end + 1);
  }

  /**
   * A record not in validated.csv's form (another delimiter, or a value quoted that needs no quotes), from its
   * bytes: each value as csvCell would write it — quoted where it holds `"`, `,`, CR or LF, bare otherwise —
   * commas between them, and a LF. `commaDelimited`: an unquoted value cannot hold a comma, so none is looked for.
   */
  copyFields(record: RecordFields, commaDelimited: boolean): void {
    this.endRun();
    const { text, count, starts, ends, quoting } = record;
    if (fieldModes.length < count) fieldModes = new Uint8Array(2 * count);
    // Per field: 0 its bytes as written, 1 bare bytes that gain quotes, 2 quoted bytes that lose them.
    let size = count; // the commas between the fields, and the LF
    let same = true;
    for (let i = 0; i < count; i += 1) {
      const start = starts[i]!;
      const end = ends[i]!;
      let mode = 0;
      // Unquoted, a value holds no quote, CR or LF (nor, in a comma file, a comma); quoted without doubled quotes, no quote.
      if (quoting[i] === 0) mode = !commaDelimited && bytesNeedQuotes(text, start, end) ? 1 : 0;
      else if (quoting[i] === 1) mode = bytesNeedQuotes(text, start + 1, end - 1) ? 0 : 2;
      fieldModes[i] = mode;
      if (mode !== 0) same = false;
      size += end - start + (mode === 1 ? 2 : mode === 2 ? -2 : 0);
    }
    const out = Buffer.allocUnsafe(size);
    if (same) {
      // Every value stays as written: the record's text in one copy, each delimiter after a value a comma.
      text.copy(out, 0, record.textStart, record.textEnd);
      for (let i = 0; i < count - 1; i += 1) out[ends[i]! - record.textStart] = COMMA;
      out[size - 1] = LF;
      this.parts.push(out);
      return;
    }
    let at = 0;
    for (let i = 0; i < count; i += 1) {
      if (i > 0) out[at++] = COMMA;
      const mode = fieldModes[i];
      const end = mode === 2 ? ends[i]! - 1 : ends[i]!;
      if (mode === 1) out[at++] = QUOTE;
      // Values are short: a loop costs less than a native copy call each.
      for (let j = mode === 2 ? starts[i]! + 1 : starts[i]!; j < end; j += 1) out[at++] = text[j]!;
      if (mode === 1) out[at++] = QUOTE;
    }
    out[at] = LF;
    this.parts.push(out);
  }

  /** Bytes [start, end) of `text` as they are; bytes that follow the last ones copied extend the same slice. */
  copyBytes(text: Buffer, start: number, end: number): void {
    if (text === this.runText && start === this.runEnd) {
      this.runEnd = end;
      return;
    }
    this.endRun();
    this.runText = text;
    this.runStart = start;
    this.runEnd = end;
  }

  /** The text as UTF-8 in a fresh buffer of its own (safe to transfer), emptied as `take` does. */
  bytes(): Uint8Array {
    const length = this.byteLength();
    const out = Buffer.from(new ArrayBuffer(length));
    this.joinInto(out);
    return new Uint8Array(out.buffer, 0, length);
  }

  /** The text as a string, emptied (`bytes` saves the round trip for a caller that wants UTF-8). */
  take(): string {
    // Joined as bytes in a buffer kept for the next block, then decoded once: a flat string, and no
    // megabyte of garbage outside the bounded heap per block.
    const length = this.byteLength();
    if (joined.length < length) joined = Buffer.allocUnsafe(Math.max(length, 2 * joined.length));
    this.joinInto(joined);
    return joined.toString('utf8', 0, length);
  }

  private byteLength(): number {
    this.endRun();
    let length = 0;
    for (const part of this.parts) length += typeof part === 'string' ? Buffer.byteLength(part) : part.length;
    return length;
  }

  private joinInto(out: Buffer): void {
    let at = 0;
    for (const part of this.parts) at += typeof part === 'string' ? out.write(part, at) : part.copy(out, at);
    this.parts.length = 0;
  }

  private endRun(): void {
    if (!this.runText) return;
    this.parts.push(this.runText.subarray(this.runStart, this.runEnd));
    this.runText = undefined;
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
    const commaDelimited = delimiter === ',';
    const checkBytes = compiled?.checkBytes;
    const changes: (string | null | undefined)[] = [];
    let expectHeader = start.withHeader;
    // A record copied from the bytes: one object, updated, so nothing is allocated per record.
    const copy: { text: Buffer; start: number; end: number; lf: boolean } = { text: Buffer.alloc(0), start: 0, end: 0, lf: true };
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
      fields(record) {
        // The common row, valid and already in validated.csv's form, never becomes strings.
        if (expectHeader || record.count !== header.length) return false;
        let changed = 0;
        if (compiled) {
          changed = checkBytes ? checkBytes(record, changes) : -1;
          // A changed cell in a record not in validated.csv's form is written from the cells (rare: a number like 12.50).
          if (changed < 0 || (changed > 0 && !record.canonical)) return false;
        } else {
          for (let i = 0; i < record.count; i += 1) {
            if (!inference[i]!.open) continue;
            const cell = cellText(record.text, record.starts[i]!, record.ends[i]!, record.quoting[i]!);
            if (!missing.has(cell)) inference[i]!.observe(cell);
          }
        }
        counts.rowsRead += 1;
        counts.rowsValid += 1;
        if (!record.canonical) {
          out.validated.copyFields(record, commaDelimited);
          return true;
        }
        copy.text = record.text;
        copy.start = record.textStart;
        copy.end = record.textEnd;
        copy.lf = record.lf;
        if (changed === 0) out.validated.copy(copy);
        else {
          // The cells normalisation changed are written anew, the text around them copied.
          for (let i = 0; i < record.count; i += 1) {
            const value = changes[i];
            if (value === undefined) continue;
            out.validated.copyBytes(record.text, copy.start, record.starts[i]!);
            out.validated.write(csvCell(value));
            copy.start = record.ends[i]!;
          }
          out.validated.copy(copy);
        }
        return true;
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
