import { BadInputError } from '../../../contract/errors.js';
import { csvLimits } from './limits.js';
import { doubled } from './record-scanner.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
/** A pending record longer than this is not one validation wrote (its records are at most maxRecordChars, quoted). */
export const maxPendingBytes = 4 * 3 * csvLimits.maxRecordChars;
const noBytes: Buffer = Buffer.alloc(0);
/** 32-bit FNV-1a. */
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** FNV-1a of text[start, end), as CanonicalRecords takes it of a field. */
export function fnv1a(text: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i += 1) h = Math.imul(h ^ text[i]!, FNV_PRIME);
  return h;
}

/**
 * One record of validated.csv as byte ranges: field i is `text[starts[i], ends[i])` as written, a quoted
 * value with its quotes and doubled inner quotes. Valid during the visit only.
 */
export interface CanonicalRecord {
  readonly text: Buffer;
  readonly count: number;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  /** FNV-1a of each field's bytes as written, taken while delimiting it (for tallies keyed by the bytes). */
  readonly hashes: Int32Array;
}

/**
 * Reads validated.csv, which validation wrote (csv-text.ts): UTF-8, comma, LF, a cell quoted only when it
 * holds `"`, `,`, CR or LF, inner quotes doubled. A general CSV parser is not needed for our own output,
 * nor are strings: each record is delimited on the bytes and handed over as field ranges, so a consumer
 * that can work on bytes (analysis: numbers, value tallies) decodes nothing. Anything that does not
 * follow those rules is CSV_VALIDATED_UNREADABLE.
 */
export class CanonicalRecords implements CanonicalRecord {
  text: Buffer = noBytes;
  count = 0;
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  hashes = new Int32Array(64);
  private rest: Buffer = noBytes;
  /** Where `rest` (the start of the text being read) is in the file, so a fault names its byte. */
  private base = 0;

  constructor(private readonly visit: (record: CanonicalRecord) => void) {}

  /**
   * Reads the records `chunk` completes. A record cut by the last chunk is finished from the joined tail
   * and the chunk's first line, and the chunk is read in place from there: a copy of every chunk would be
   * garbage outside the heap's bounds.
   */
  push(chunk: Buffer): void {
    if (this.rest.length === 0 || chunk.length === 0) return this.read(chunk);
    const nl = chunk.indexOf(LF);
    const k = nl < 0 ? chunk.length : nl + 1;
    this.read(chunk.subarray(0, k));
    if (k < chunk.length) this.read(chunk.subarray(k));
  }

  /**
   * Reads a block of whole records that starts at byte `offset` of the file (record-cut.ts cuts them), the
   * last one ended by its LF: anything left over is a quoted value never closed.
   */
  pushBlock(block: Buffer, offset: number): void {
    this.base = offset;
    this.read(block);
    if (this.rest.length > 0) throw this.openQuote();
  }

  private read(chunk: Buffer): void {
    const b = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    this.text = b;
    let p = 0;
    for (let next = this.record(b, p); next >= 0; next = this.record(b, p)) {
      this.visit(this);
      p = next;
    }
    this.base += p;
    // A copy: the tail must not keep the whole chunk alive.
    this.rest = p < b.length ? Buffer.from(b.subarray(p)) : noBytes;
    if (this.rest.length > maxPendingBytes) throw unreadable(`the record at byte ${this.base} runs past ${maxPendingBytes} bytes`);
  }

  /** The last record may lack its line break; a quote still open here was never closed. */
  end(): void {
    if (this.rest.length === 0) return;
    this.push(Buffer.from('\n'));
    if (this.rest.length > 0) throw this.openQuote();
  }

  /** Where the record being read starts in the file: faults name it by its byte (threads read blocks, not rows, in order). */
  at(recordStart: number): number {
    return this.base + recordStart;
  }

  private openQuote(): BadInputError {
    return unreadable(`the record at byte ${this.base} has a quoted value that is never closed`);
  }

  /** Delimits the record at p into `starts`/`ends`; returns where the next one starts, or -1 if it is not complete in b. */
  private record(b: Buffer, p: number): number {
    const n = b.length;
    let i = p;
    let f = 0;
    for (;;) {
      if (f === this.starts.length) this.grow();
      this.starts[f] = i;
      let h = FNV_OFFSET;
      if (i < n && b[i] === QUOTE) {
        // Quoted: runs to a quote not followed by another (a doubled quote is one inside the value).
        h = Math.imul(h ^ QUOTE, FNV_PRIME);
        let j = i + 1;
        for (;;) {
          for (; j < n; j += 1) {
            const c = b[j]!;
            h = Math.imul(h ^ c, FNV_PRIME);
            if (c === QUOTE) break;
          }
          if (j + 1 >= n) return -1;
          if (b[j + 1] !== QUOTE) break;
          h = Math.imul(h ^ QUOTE, FNV_PRIME);
          j += 2;
        }
        i = j + 1;
        const c = b[i];
        if (c !== COMMA && c !== LF) throw unreadable(`the record at byte ${this.base + p} has text after a closing quote`);
      } else {
        for (; i < n; i += 1) {
          const c = b[i]!;
          if (c === COMMA || c === LF) break;
          if (c === QUOTE) throw unreadable(`the record at byte ${this.base + p} has a quote inside an unquoted value`);
          h = Math.imul(h ^ c, FNV_PRIME);
        }
        if (i >= n) return -1;
      }
      this.hashes[f] = h;
      this.ends[f] = i;
      f += 1;
      if (b[i] === LF) {
        this.count = f;
        return i + 1;
      }
      i += 1;
    }
  }

  private grow(): void {
    [this.starts, this.ends, this.hashes] = [doubled(this.starts), doubled(this.ends), doubled(this.hashes)];
  }
}

/** Whether the field is written quoted (it then starts and ends with a quote). */
export const isQuoted = (text: Uint8Array, start: number) => text[start] === QUOTE;

/** A field's value as a string: quotes removed, doubled quotes undone. */
export function fieldValue(text: Buffer, start: number, end: number): string {
  if (text[start] !== QUOTE) return text.toString('utf8', start, end);
  const inner = text.toString('utf8', start + 1, end - 1);
  return inner.includes('"') ? inner.replaceAll('""', '"') : inner;
}

export function unreadable(why: string): BadInputError {
  return new BadInputError('CSV_VALIDATED_UNREADABLE', `validated.csv cannot be read (${why}); run the validation stage again.`);
}
