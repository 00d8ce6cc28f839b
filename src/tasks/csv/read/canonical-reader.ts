import { BadInputError } from '../../../contract/errors.js';
import { csvLimits } from './limits.js';

/** Receives each record in file order, the header first. */
export type RecordSink = (cells: string[]) => void;

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
/** A pending record longer than this is not one validation wrote (its records are at most maxRecordChars, quoted). */
const maxPendingChars = 4 * csvLimits.maxRecordChars;

/**
 * Reads validated.csv, which validation wrote (csv-text.ts): comma, LF, a cell quoted only when it holds
 * `"`, `,`, CR or LF, inner quotes doubled. A general CSV parser is not needed for our own output: a line
 * without `"` is `split(',')` (native, no per-character work), and only lines with a quote go through a
 * small quoted-field scanner. Anything that does not follow those rules is CSV_VALIDATED_UNREADABLE.
 */
export class CanonicalCsvReader {
  private rest = '';
  private records = 0;

  constructor(private readonly sink: RecordSink) {}

  push(text: string): void {
    const s = this.rest.length > 0 ? this.rest + text : text;
    let p = 0;
    // Next quote at or after p, or s.length when there is none: saves a search per quote-free line.
    let quote = -1;
    for (;;) {
      const nl = s.indexOf('\n', p);
      if (nl < 0) break;
      if (quote < p) quote = indexOr(s, '"', p);
      if (quote > nl) {
        this.records += 1;
        this.sink(s.slice(p, nl).split(','));
        p = nl + 1;
        continue;
      }
      const end = this.quotedRecord(s, p);
      if (end < 0) break;
      p = end;
    }
    this.rest = s.slice(p);
    if (this.rest.length > maxPendingChars) throw unreadable(`record ${this.records + 1} runs past ${maxPendingChars} characters`);
  }

  /** The last record may lack its line break; a quote still open here was never closed. */
  end(): void {
    if (this.rest.length === 0) return;
    this.push('\n');
    if (this.rest.length > 0) throw unreadable(`record ${this.records + 1} has a quoted value that is never closed`);
  }

  /** Parses the record at p that holds a quote; returns where the next record starts, or -1 if it is not complete in s. */
  private quotedRecord(s: string, p: number): number {
    const cells: string[] = [];
    let i = p;
    for (;;) {
      if (s.charCodeAt(i) === QUOTE) {
        let value = '';
        let from = i + 1;
        for (;;) {
          const q = s.indexOf('"', from);
          if (q < 0 || q + 1 >= s.length) return -1;
          if (s.charCodeAt(q + 1) === QUOTE) {
            value += s.slice(from, q + 1);
            from = q + 2;
            continue;
          }
          value += s.slice(from, q);
          i = q + 1;
          break;
        }
        cells.push(value);
      } else {
        let j = i;
        for (; j < s.length; j += 1) {
          const c = s.charCodeAt(j);
          if (c === COMMA || c === LF) break;
          if (c === QUOTE) throw unreadable(`record ${this.records + 1} has a quote inside an unquoted value`);
        }
        if (j >= s.length) return -1;
        cells.push(s.slice(i, j));
        i = j;
      }
      const c = s.charCodeAt(i);
      if (c === COMMA) i += 1;
      else if (c === LF) {
        this.records += 1;
        this.sink(cells);
        return i + 1;
      } else if (i >= s.length) return -1;
      else throw unreadable(`record ${this.records + 1} has text after a closing quote`);
    }
  }
}

function indexOr(s: string, search: string, from: number): number {
  const at = s.indexOf(search, from);
  return at < 0 ? s.length : at;
}

export function unreadable(why: string): BadInputError {
  return new BadInputError('CSV_VALIDATED_UNREADABLE', `validated.csv cannot be read (${why}); run the validation stage again.`);
}
