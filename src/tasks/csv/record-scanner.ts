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

/**
 * The fast path for reading CSV: plain RFC 4180 records only, each read as csv-parse reads it (arrays,
 * quote `"` doubled inside quoted values, the file's record delimiter). A line without a quote is one
 * native `split`; a line with one goes through a small field scanner that finds quoted values with
 * `indexOf`. Anything else is IRREGULAR and left to the caller, which hands it to csv-parse.
 */
export class RecordScanner {
  /** Cells of the record last scanned; empty for an empty line (which csv-parse skips). */
  cells: string[] = noCells;
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
    private readonly ending: LineEnding,
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
    if (this.nextQuote < nl) return this.scanFields(s, p);
    let end = nl;
    if (this.ending === '\r\n') {
      // A lone LF is data in a CRLF file, and a CR inside a line is data too: csv-parse decides those.
      if (nl === p || this.nextCr !== nl - 1) return IRREGULAR;
      end = nl - 1;
    } else if (this.nextCr < nl) return IRREGULAR;
    if (end - p > this.maxChars) return IRREGULAR;
    this.cells = end === p ? noCells : s.slice(p, end).split(this.delimiter);
    this.textEnd = end;
    this.lines = 1;
    this.canonical = this.comma;
    return nl + 1;
  }

  /** A record holding a quote, field by field. */
  private scanFields(s: string, p: number): number {
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
          value += s.slice(from, q + 1);
          from = q + 2;
        }
        value += s.slice(from, q);
        lines += countBreaks(value);
        if (canonical && !needsQuotes.test(value)) canonical = false;
        cells.push(value);
        i = q + 1;
      } else {
        let j = i;
        for (; j < s.length; j += 1) {
          const c = s.charCodeAt(j);
          if (c === this.delimiterCode || c === LF || c === CR) break;
          if (c === QUOTE) return IRREGULAR;
        }
        if (j >= s.length) return this.pending(s, p);
        cells.push(s.slice(i, j));
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
      this.textEnd = i;
      this.lines = lines;
      this.canonical = canonical;
      return i + this.ending.length;
    }
  }

  private pending(s: string, p: number): number {
    return s.length - p > this.maxChars ? IRREGULAR : INCOMPLETE;
  }
}

function indexOr(s: string, search: string, from: number): number {
  const at = s.indexOf(search, from);
  return at < 0 ? s.length : at;
}

function countBreaks(value: string): number {
  let n = 0;
  for (let at = value.indexOf('\n'); at >= 0; at = value.indexOf('\n', at + 1)) n += 1;
  for (let at = value.indexOf('\r'); at >= 0; at = value.indexOf('\r', at + 1)) n += 1;
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
