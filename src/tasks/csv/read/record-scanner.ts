import { csvLimits } from './limits.js';

/** The record delimiters the scanner reads; a file whose records end in a lone CR is left to csv-parse. */
export type LineEnding = '\n' | '\r\n';

/** `scan` results besides a position: the text ends before the record does. */
export const INCOMPLETE = -1;
/** `scan` result: the record is not plain RFC 4180 (a stray quote, a stray CR or LF, over the length bound). */
export const IRREGULAR = -2;

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const COMMA = 0x2c;
const noStrays: number[] = [];

/**
 * A record as the scanner delimited it, in the bytes read: field i is `text[starts[i], ends[i])` as
 * written (a quoted value with its quotes). Valid until the next scan.
 */
export interface RecordFields {
  readonly text: Buffer;
  readonly count: number;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  /** Per field: 0 unquoted, 1 quoted, 2 quoted with doubled quotes inside. */
  readonly quoting: Uint8Array;
  /** Whether the record's text is already as validated.csv writes it: commas, quoted only where a value needs it. */
  readonly canonical: boolean;
  /** Where the record's text starts and ends in `text` (its line ending excluded). */
  readonly textStart: number;
  readonly textEnd: number;
  /** Whether its line ending is a lone LF, as validated.csv's are. */
  readonly lf: boolean;
}

/**
 * The fast path for reading CSV: plain RFC 4180 records only, each read as csv-parse reads it (arrays,
 * quote `"` doubled inside quoted values, the file's record delimiter), on the UTF-8 bytes: delimiter,
 * quote, CR and LF are ASCII, so they are never part of a multi-byte character. A record is delimited
 * into field ranges; cells are decoded only when asked for. Anything else is IRREGULAR and left to the
 * caller, which hands it to csv-parse.
 */
export class RecordScanner implements RecordFields {
  text: Buffer = Buffer.alloc(0);
  count = 0;
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  quoting = new Uint8Array(64);
  /** Whether the last "record" was an empty line, which csv-parse skips. */
  empty = false;
  /**
   * Fields (0-based) of the quotes in the last record when it is a single line whose every quote stands
   * inside an unquoted value: csv-parse reports each such quote (INVALID_OPENING_QUOTE), keeps it as
   * text and drops the record at the line's end. Empty for any other record.
   */
  strays: number[] = noStrays;
  /** Off, records are only delimited, not split into fields: for a reader that only needs to know where they end. */
  splitting = true;
  /** Where the last scanned record's text starts and ends (its line ending excluded). */
  textStart = 0;
  textEnd = 0;
  /** Line breaks the last record spans, counted as csv-parse counts them: each CR or LF inside a quoted value is one. */
  lines = 0;
  canonical = false;
  readonly lf: boolean;
  /** Next LF, quote and CR at or after the last position asked about in `text` (its length when there is none): for `delimit`. */
  private nextLf = -1;
  private nextQuote = -1;
  private nextCr = -1;
  private readonly delimiterCode: number;
  private readonly comma: boolean;
  private readonly crlf: boolean;

  constructor(
    delimiter: string,
    readonly ending: LineEnding,
    /** Records longer than this (in bytes) are IRREGULAR, so csv-parse applies its own size bound to them. */
    private readonly maxBytes: number,
  ) {
    this.delimiterCode = delimiter.charCodeAt(0);
    this.comma = delimiter === ',';
    this.crlf = ending === '\r\n';
    this.lf = !this.crlf;
  }

  /** All cells of the last record, decoded. */
  cells(): string[] {
    const cells = new Array<string>(this.count);
    for (let i = 0; i < this.count; i += 1) cells[i] = cellText(this.text, this.starts[i]!, this.ends[i]!, this.quoting[i]!);
    return cells;
  }

  /** Scans the record starting at p: returns where the next one starts, INCOMPLETE or IRREGULAR. */
  scan(b: Buffer, p: number): number {
    if (b !== this.text) {
      this.text = b;
      this.nextLf = this.nextQuote = this.nextCr = -1;
    }
    if (!this.splitting) return this.delimit(b, p);
    const n = b.length;
    const d = this.delimiterCode;
    const keep = this.splitting;
    let canonical = this.comma;
    let lines = 1;
    let f = 0;
    let i = p;
    for (;;) {
      if (i - p > this.maxBytes) return IRREGULAR;
      if (keep && f === this.starts.length) this.grow();
      const start = i;
      let quoting = 0;
      if (i < n && b[i] === QUOTE) {
        // A quoted value: to the quote that is not doubled; breaks inside it are lines csv-parse counts.
        let special = false;
        let j = i + 1;
        quoting = 1;
        for (;;) {
          let c = 0;
          for (; j < n; j += 1) {
            c = b[j]!;
            if (c === QUOTE) break;
            if (c === LF || c === CR) {
              lines += 1;
              special = true;
            } else if (c === COMMA) special = true;
          }
          if (j + 1 >= n) return this.pending(n, p);
          if (b[j + 1] !== QUOTE) break;
          quoting = 2;
          j += 2;
        }
        // Quoted only where a value needs it: a quote, comma, CR or LF inside.
        if (quoting === 1 && !special) canonical = false;
        i = j + 1;
      } else {
        for (; i < n; i += 1) {
          const c = b[i]!;
          if (c === d || c === LF || c === CR) break;
          if (c === QUOTE) return i > start ? this.strayQuotes(b, p) : IRREGULAR;
        }
        if (i >= n) return this.pending(n, p);
      }
      if (keep) {
        this.starts[f] = start;
        this.ends[f] = i;
        this.quoting[f] = quoting;
      }
      f += 1;
      if (i >= n) return this.pending(n, p);
      const c = b[i];
      if (c === d) {
        i += 1;
        continue;
      }
      if (this.crlf) {
        if (c !== CR) return IRREGULAR;
        if (i + 1 >= n) return this.pending(n, p);
        if (b[i + 1] !== LF) return IRREGULAR;
      } else if (c !== LF) return IRREGULAR;
      if (i - p > this.maxBytes) return IRREGULAR;
      this.strays = noStrays;
      this.empty = i === p;
      this.count = this.empty ? 0 : f;
      this.textStart = p;
      this.textEnd = i;
      this.lines = lines;
      this.canonical = canonical;
      return this.crlf ? i + 2 : i + 1;
    }
  }

  /**
   * `scan` for a reader that only needs to know where records end: the same answers, found by jumping
   * from one LF, quote or CR to the next with `indexOf` (a native search) instead of looking at every byte.
   * Quotes are followed value by value: one opening a field must close, then a delimiter or the line's end
   * must follow; any other quote is a stray, for `strayQuotes`.
   */
  private delimit(b: Buffer, p: number): number {
    const n = b.length;
    if (this.nextLf < p) this.nextLf = indexOr(b, LF, p);
    if (this.nextQuote < p) this.nextQuote = indexOr(b, QUOTE, p);
    if (this.nextCr < p) this.nextCr = indexOr(b, CR, p);
    let nl = this.nextLf;
    if (nl === n) return this.pending(n, p);
    let lines = 1;
    while (this.nextQuote < nl) {
      const q = this.nextQuote;
      // A CR before the quote is outside any quoted value, where csv-parse must judge it.
      if (this.nextCr < q) return IRREGULAR;
      if (q !== p && b[q - 1] !== this.delimiterCode) return this.strayQuotes(b, p);
      let close = b.indexOf(QUOTE, q + 1);
      while (close >= 0 && close + 1 < n && b[close + 1] === QUOTE) close = b.indexOf(QUOTE, close + 2);
      if (close < 0 || close + 1 >= n) return this.pending(n, p);
      const after = b[close + 1];
      if (after !== this.delimiterCode && after !== LF && after !== CR) return IRREGULAR;
      if (close > nl || this.nextCr < close) {
        lines += countBreaks(b, q + 1, close);
        if (close > nl) {
          nl = this.nextLf = indexOr(b, LF, close);
          if (nl === n) return this.pending(n, p);
        }
        this.nextCr = indexOr(b, CR, close);
      }
      this.nextQuote = indexOr(b, QUOTE, close + 1);
      if (nl - p > this.maxBytes) return IRREGULAR;
    }
    let end = nl;
    if (this.crlf) {
      // A lone LF is data in a CRLF file, and a CR inside a line is data too: csv-parse decides those.
      if (nl === p || this.nextCr !== nl - 1) return IRREGULAR;
      end = nl - 1;
    } else if (this.nextCr < nl) return IRREGULAR;
    if (end - p > this.maxBytes) return IRREGULAR;
    this.strays = noStrays;
    this.empty = end === p;
    this.count = 0;
    this.textStart = p;
    this.textEnd = end;
    this.lines = lines;
    this.canonical = false;
    return nl + 1;
  }

  /**
   * The line at p holds a quote inside an unquoted value. If it is otherwise plain (quoted values, if any,
   * open and close on this line; no stray CR), it is one record that csv-parse reports once per such
   * quote: see `strays`. Otherwise IRREGULAR, for csv-parse itself.
   */
  private strayQuotes(b: Buffer, p: number): number {
    const nl = b.indexOf(LF, p);
    if (nl < 0) return this.pending(b.length, p);
    const end = this.crlf ? nl - 1 : nl;
    if (end - p > this.maxBytes || (this.crlf && b[end] !== CR)) return IRREGULAR;
    const strays: number[] = [];
    let field = 0;
    let i = p;
    while (i < end) {
      if (b[i] === QUOTE) {
        // A quoted value: it must close on this line, followed by a delimiter or the line's end.
        let q = b.indexOf(QUOTE, i + 1);
        while (q >= 0 && q < end && b[q + 1] === QUOTE) q = b.indexOf(QUOTE, q + 2);
        if (q < 0 || q >= end || countBreaks(b, i + 1, q) > 0) return IRREGULAR;
        i = q + 1;
        if (i === end) break;
        if (b[i] !== this.delimiterCode) return IRREGULAR;
        i += 1;
        field += 1;
        continue;
      }
      for (; i < end; i += 1) {
        const c = b[i];
        if (c === this.delimiterCode) break;
        if (c === CR) return IRREGULAR;
        if (c === QUOTE) strays.push(field);
      }
      if (i < end) {
        i += 1;
        field += 1;
      }
    }
    // Too many for a row of data: csv-parse refuses the line (see csvLimits.maxSkipsPerLine).
    if (strays.length === 0 || strays.length > csvLimits.maxSkipsPerLine) return IRREGULAR;
    this.strays = strays;
    this.count = 0;
    this.empty = false;
    this.canonical = false;
    this.textStart = p;
    this.textEnd = end;
    this.lines = 1;
    return nl + 1;
  }

  private pending(n: number, p: number): number {
    return n - p > this.maxBytes ? IRREGULAR : INCOMPLETE;
  }

  private grow(): void {
    [this.starts, this.ends, this.quoting] = [doubled(this.starts), doubled(this.ends), doubled(this.quoting)];
  }
}

/** A copy of a per-field array with room for twice as many fields (the scanners' arrays grow with the widest record). */
export function doubled<A extends Int32Array | Uint8Array>(a: A): A {
  const b = new (a.constructor as new (length: number) => A)(a.length * 2);
  b.set(a);
  return b;
}

function indexOr(b: Buffer, byte: number, from: number): number {
  const at = b.indexOf(byte, from);
  return at < 0 ? b.length : at;
}

/** A field's value: text[start, end) decoded, quotes removed (`quoting` 1 or 2), doubled quotes undone (2). */
export function cellText(text: Buffer, start: number, end: number, quoting: number): string {
  if (quoting === 0) return text.toString('utf8', start, end);
  const inner = text.toString('utf8', start + 1, end - 1);
  return quoting === 2 ? inner.replaceAll('""', '"') : inner;
}

/** CRs and LFs in b[from, to). */
function countBreaks(b: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i += 1) {
    const c = b[i];
    if (c === LF || c === CR) n += 1;
  }
  return n;
}

/**
 * The record delimiter csv-parse would settle on: the first CR LF, LF or CR outside a quoted value.
 * Quoting follows csv-parse, broken quotes included (a quote inside an unquoted value is data; a quote
 * followed by anything but a delimiter or line break leaves the value open). Undefined while `s` holds
 * no line break yet (or only a final CR whose next character is still to come).
 */
export function discoverEnding(s: string, delimiter: string, final: boolean): LineEnding | '\r' | undefined {
  let quoting = false;
  let fieldStart = true;
  for (let i = 0; i < s.length; i += 1) {
    const c = s[i];
    if (quoting) {
      if (c !== '"') continue;
      const next = s[i + 1];
      if (next === undefined && !final) return undefined;
      if (next === '"') i += 1;
      else if (next === undefined || next === delimiter || next === '\r' || next === '\n') quoting = false;
      fieldStart = false;
      continue;
    }
    if (c === '\n') return '\n';
    if (c === '\r') {
      if (i + 1 >= s.length && !final) return undefined;
      return s[i + 1] === '\n' ? '\r\n' : '\r';
    }
    if (c === delimiter) fieldStart = true;
    else {
      if (c === '"' && fieldStart) quoting = true;
      fieldStart = false;
    }
  }
  return undefined;
}
