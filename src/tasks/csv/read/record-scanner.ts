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
const needsQuotes = /[",\r\n]/;
const noCells: string[] = [];
const noStrays: number[] = [];

/**
 * The fast path for reading CSV: plain RFC 4180 records only, each read as csv-parse reads it (arrays,
 * quote `"` doubled inside quoted values, the file's record delimiter). A line without a quote is one
 * native `split`; a line with one goes through a small field scanner that finds quoted values with
 * `indexOf`. Anything else is IRREGULAR and left to the caller, which hands it to csv-parse.
 */
export class RecordScanner {
  /** Cells of the record last scanned (none while `splitting` is off). */
  cells: string[] = noCells;
  /** Whether the last "record" was an empty line, which csv-parse skips. */
  empty = false;
  /**
   * Fields (0-based) of the quotes in the last record when it is a single line whose every quote stands
   * inside an unquoted value: csv-parse reports each such quote (INVALID_OPENING_QUOTE), keeps it as
   * text and drops the record at the line's end. Empty for any other record.
   */
  strays: number[] = noStrays;
  /** Off, records are only delimited, not split into cells: for a reader that only needs to know where they end. */
  splitting = true;
  /** Where the last scanned record's text ends (its line ending excluded). */
  textEnd = 0;
  /** Line breaks the last record spans, counted as csv-parse counts them: each CR or LF inside a quoted value is one. */
  lines = 0;
  /** Whether the last record's text is already as validated.csv writes it: commas, quoted only where a value needs it. */
  canonical = false;
  private nextQuote = -1;
  private nextCr = -1;
  private readonly delimiterCode: number;
  private readonly comma: boolean;

  constructor(
    private readonly delimiter: string,
    readonly ending: LineEnding,
    /** Records longer than this are IRREGULAR, so csv-parse applies its own size bound to them. */
    private readonly maxChars: number,
  ) {
    this.delimiterCode = delimiter.charCodeAt(0);
    this.comma = delimiter === ',';
  }

  /** Call with each new text before scanning it: the scanner caches positions within one text. */
  begin(): void {
    this.nextQuote = -1;
    this.nextCr = -1;
  }

  /** Scans the record starting at p: returns where the next one starts, INCOMPLETE or IRREGULAR. */
  scan(s: string, p: number): number {
    const nl = s.indexOf('\n', p);
    if (nl < 0) return this.pending(s, p);
    // Next quote and CR at or after p, or s.length when there are none: one search serves many lines.
    if (this.nextQuote < p) this.nextQuote = indexOr(s, '"', p);
    if (this.nextCr < p) this.nextCr = indexOr(s, '\r', p);
    if (this.nextQuote < nl) return this.scanFields(s, p, nl);
    let end = nl;
    if (this.ending === '\r\n') {
      // A lone LF is data in a CRLF file, and a CR inside a line is data too: csv-parse decides those.
      if (nl === p || this.nextCr !== nl - 1) return IRREGULAR;
      end = nl - 1;
    } else if (this.nextCr < nl) return IRREGULAR;
    if (end - p > this.maxChars) return IRREGULAR;
    this.strays = noStrays;
    this.empty = end === p;
    this.cells = this.empty || !this.splitting ? noCells : s.slice(p, end).split(this.delimiter);
    this.textEnd = end;
    this.lines = 1;
    this.canonical = this.comma;
    return nl + 1;
  }

  /** A record holding a quote, field by field. */
  private scanFields(s: string, p: number, firstBreak: number): number {
    const keep = this.splitting;
    const cells: string[] = [];
    let lines = 1;
    let canonical = this.comma;
    let i = p;
    for (;;) {
      if (i - p > this.maxChars) return IRREGULAR;
      if (s.charCodeAt(i) === QUOTE) {
        let value = '';
        let from = i + 1;
        let q: number;
        for (;;) {
          q = s.indexOf('"', from);
          // The character after the quote decides between a doubled quote and the value's end.
          if (q < 0 || q + 1 >= s.length) return this.pending(s, p);
          if (s.charCodeAt(q + 1) !== QUOTE) break;
          if (keep) value += s.slice(from, q + 1);
          from = q + 2;
        }
        // Only a value that runs past the record's first line break (or a CR) holds breaks.
        if (q > firstBreak || this.nextCr < q) lines += countBreaks(s, i + 1, q);
        if (keep) {
          value += s.slice(from, q);
          if (canonical && !needsQuotes.test(value)) canonical = false;
          cells.push(value);
        }
        i = q + 1;
      } else {
        let j = i;
        for (; j < s.length; j += 1) {
          const c = s.charCodeAt(j);
          if (c === this.delimiterCode || c === LF || c === CR) break;
          if (c === QUOTE) return j > i ? this.strayQuotes(s, p, firstBreak) : IRREGULAR;
        }
        if (j >= s.length) return this.pending(s, p);
        if (keep) cells.push(s.slice(i, j));
        i = j;
      }
      if (i >= s.length) return this.pending(s, p);
      const c = s.charCodeAt(i);
      if (c === this.delimiterCode) {
        i += 1;
        continue;
      }
      if (this.ending === '\n' ? c !== LF : c !== CR) return IRREGULAR;
      if (this.ending === '\r\n') {
        if (i + 1 >= s.length) return this.pending(s, p);
        if (s.charCodeAt(i + 1) !== LF) return IRREGULAR;
      }
      if (i - p > this.maxChars) return IRREGULAR;
      this.cells = cells;
      this.strays = noStrays;
      this.empty = false;
      this.textEnd = i;
      this.lines = lines;
      this.canonical = canonical;
      return i + this.ending.length;
    }
  }

  /**
   * The line from p to `nl` holds a quote inside an unquoted value. If it is otherwise plain (quoted values,
   * if any, open and close on this line; no stray CR), it is one record that csv-parse reports once per
   * such quote: see `strays`. Otherwise IRREGULAR, for csv-parse itself.
   */
  private strayQuotes(s: string, p: number, nl: number): number {
    const end = this.ending === '\r\n' ? nl - 1 : nl;
    if (end - p > this.maxChars || (this.ending === '\r\n' && s.charCodeAt(end) !== CR)) return IRREGULAR;
    const strays: number[] = [];
    let field = 0;
    let i = p;
    while (i < end) {
      if (s.charCodeAt(i) === QUOTE) {
        // A quoted value: it must close on this line, followed by a delimiter or the line's end.
        let q = s.indexOf('"', i + 1);
        while (q >= 0 && q < end && s.charCodeAt(q + 1) === QUOTE) q = s.indexOf('"', q + 2);
        if (q < 0 || q >= end || countBreaks(s, i + 1, q) > 0) return IRREGULAR;
        i = q + 1;
        if (i === end) break;
        if (s.charCodeAt(i) !== this.delimiterCode) return IRREGULAR;
        i += 1;
        field += 1;
        continue;
      }
      for (; i < end; i += 1) {
        const c = s.charCodeAt(i);
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
    this.cells = noCells;
    this.empty = false;
    this.canonical = false;
    this.textEnd = end;
    this.lines = 1;
    return nl + 1;
  }

  private pending(s: string, p: number): number {
    return s.length - p > this.maxChars ? IRREGULAR : INCOMPLETE;
  }
}

function indexOr(s: string, search: string, from: number): number {
  const at = s.indexOf(search, from);
  return at < 0 ? s.length : at;
}

/** CRs and LFs in s[from, to). */
function countBreaks(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i += 1) {
    const c = s.charCodeAt(i);
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
