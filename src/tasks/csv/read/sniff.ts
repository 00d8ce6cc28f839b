import { isUtf8 } from 'node:buffer';
import { createGunzip, constants as zlibConstants } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { BadInputError } from '../../../contract/errors.js';
import type { ObjectRef } from '../../../contract/job.js';
import type { ObjectStore } from '../../../storage/object-store.js';
import { csvParseWhere } from './csv-parse-stretch.js';
import { csvLimits } from './limits.js';
import { whitespaceToCsv } from './whitespace.js';

export const csvEncodings = ['utf-8', 'utf-16le', 'utf-16be', 'latin-1', 'windows-1252'] as const;
export type CsvEncoding = (typeof csvEncodings)[number];
export const csvDelimiters = [',', ';', '\t', '|'] as const;
export type CsvDelimiter = (typeof csvDelimiters)[number];
/** A one-character delimiter, or runs of spaces and tabs (pandas `sep='\\s+'`). */
export const csvSeparators = [...csvDelimiters, 'whitespace'] as const;
export type CsvSeparator = (typeof csvSeparators)[number];

/** What a request may set instead of the sniffed value (`csv.delimiter`, `csv.encoding`, `csv.skipLines`). */
export interface CsvDialectOptions {
  delimiter?: CsvSeparator | undefined;
  encoding?: CsvEncoding | undefined;
  skipLines?: number | undefined;
}

/** The delimiter records are read with: a whitespace file is rewritten to comma CSV before reading (whitespace.ts). */
export const readDelimiter = (format: Pick<CsvFormat, 'delimiter'>): CsvDelimiter => (format.delimiter === 'whitespace' ? ',' : format.delimiter);

/** What a CSV input looks like, decided from its first bytes; validation and analysis re-sniff, nothing else travels. */
export interface CsvFormat {
  gzip: boolean;
  encoding: CsvEncoding;
  /** Bytes of byte-order mark to skip after decompression. */
  bomBytes: number;
  delimiter: CsvSeparator;
  /** Lines before the header that are dropped (csv.skipLines). */
  skipLines: number;
  header: string[];
}

export interface CsvHead {
  /** The first decompressed bytes, at most csvLimits.headBytes. */
  bytes: Buffer;
  gzip: boolean;
  /** True when `bytes` is the whole (decompressed) file. */
  complete: boolean;
  /** The object as stored, when the head read got all of it: a small input is read from S3 once. */
  whole?: Buffer;
}

const isGzip = (b: Buffer) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** Reads the first bytes of an input, decompressing a gzip head without inflating the rest (a bomb stays cheap). */
export async function readCsvHead(store: ObjectStore, ref: ObjectRef, signal: AbortSignal): Promise<CsvHead> {
  const raw = await store.readHead(ref, csvLimits.headBytes + 1, signal);
  const whole = raw.length <= csvLimits.headBytes ? { whole: raw } : {};
  if (!isGzip(raw)) {
    const complete = raw.length <= csvLimits.headBytes;
    return { bytes: complete ? raw : raw.subarray(0, csvLimits.headBytes), gzip: false, complete, ...whole };
  }
  const { bytes, ended } = await gunzipHead(raw, csvLimits.headBytes);
  return { bytes, gzip: true, complete: ended && raw.length <= csvLimits.headBytes, ...whole };
}

/** Inflates up to `limit` bytes of a possibly truncated gzip stream. */
function gunzipHead(compressed: Buffer, limit: number): Promise<{ bytes: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip({ finishFlush: zlibConstants.Z_SYNC_FLUSH });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (ended: boolean) => {
      if (settled) return;
      settled = true;
      gunzip.destroy();
      const all = Buffer.concat(chunks);
      resolve({ bytes: all.subarray(0, limit), ended: ended && all.length <= limit });
    };
    gunzip.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) finish(false);
    });
    gunzip.on('end', () => finish(true));
    gunzip.on('error', (err) => {
      if (settled) return;
      settled = true;
      reject(new BadInputError('CSV_GZIP_CORRUPT', `The file starts like gzip but does not decompress (${err.message}). Compress it again with gzip, or upload it uncompressed.`, { cause: err }));
    });
    gunzip.end(compressed);
  });
}

/**
 * Encoding from the byte-order mark; without one, UTF-8 when the bytes are valid UTF-8, else Latin-1 (as pandas reads
 * with `encoding='latin-1'`). Bytes 0x80-0x9F are control characters in Latin-1 but letters and signs in Windows-1252
 * (`€`, `’`, `Š`): a head holding any of them is refused rather than guessed. `csv.encoding` overrides all of it.
 */
export function detectEncoding(head: Buffer, complete: boolean, override?: CsvEncoding): { encoding: CsvEncoding; bomBytes: number } {
  const bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 'utf-8' : head[0] === 0xff && head[1] === 0xfe ? 'utf-16le' : head[0] === 0xfe && head[1] === 0xff ? 'utf-16be' : undefined;
  if (override) return { encoding: override, bomBytes: bom === override ? (bom === 'utf-8' ? 3 : 2) : 0 };
  if (bom) return { encoding: bom, bomBytes: bom === 'utf-8' ? 3 : 2 };
  if (looksBinary(head)) {
    throw new BadInputError(
      'CSV_NOT_TEXT',
      "The file is not text (it contains NUL or other control bytes), so it cannot be a CSV. Upload the CSV itself; for UTF-16 without a byte-order mark set csv.encoding to 'utf-16le' or 'utf-16be'.",
    );
  }
  // A multi-byte character may be cut at the end of an incomplete head: drop up to 3 trailing bytes.
  const whole = complete ? head : trimPartialUtf8(head);
  if (isUtf8(whole)) return { encoding: 'utf-8', bomBytes: 0 };
  const c1 = head.findIndex((byte) => byte >= 0x80 && byte <= 0x9f);
  if (c1 >= 0) {
    throw new BadInputError(
      'CSV_ENCODING_AMBIGUOUS',
      `The file is not UTF-8, and byte ${c1} (0x${head[c1]!.toString(16)}) reads differently in Windows-1252 and Latin-1. Set csv.encoding to 'windows-1252' (files saved by Excel on Windows) or 'latin-1', or save the file as UTF-8.`,
    );
  }
  return { encoding: 'latin-1', bomBytes: 0 };
}

/** NUL bytes or more than 1% control characters other than tab, CR, LF, FF. */
export function looksBinary(b: Buffer): boolean {
  let control = 0;
  for (const byte of b) {
    if (byte === 0) return true;
    if (byte < 9 || (byte > 13 && byte < 32) || byte === 127) control += 1;
  }
  return control > b.length / 100;
}

function trimPartialUtf8(b: Buffer): Buffer {
  let end = b.length;
  // Walk back over continuation bytes to the last lead byte; drop it if its sequence is incomplete.
  let i = end - 1;
  while (i >= 0 && end - i <= 4 && ((b[i] ?? 0) & 0xc0) === 0x80) i -= 1;
  if (i < 0) return b;
  const lead = b[i] ?? 0;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  if (end - i < need) end = i;
  return b.subarray(0, end);
}

export function decodeHead(head: Buffer, encoding: CsvEncoding, bomBytes: number): string {
  const body = head.subarray(bomBytes);
  if (encoding === 'latin-1') return body.toString('latin1');
  return new TextDecoder(encoding).decode(body, { stream: true });
}

/** Complete lines of the head (the last, possibly cut, line is dropped unless the head is the whole file). */
function headLines(text: string, complete: boolean): string[] {
  const lines = text.split(/\r\n|\n|\r/);
  if (!complete) lines.pop();
  return lines;
}

/** Lines a delimiter must agree on (the same count as on the header line) to be taken as consistent. */
const consistentShare = 0.9;
/** Lines sniffed, the header line included. */
const sampleLines = 50;
/** Most preamble lines looked for above a header. */
const maxPreamble = 10;

/** How many fields a line splits into on runs of spaces and tabs outside double quotes, leading and trailing ones ignored. */
export function whitespaceFieldCount(line: string): number {
  let n = 0;
  let inField = false;
  let inQuotes = false;
  for (const ch of line) {
    if (inQuotes) {
      if (ch === '"') inQuotes = false;
    } else if (ch === ' ' || ch === '\t') inField = false;
    else {
      if (!inField) n += 1;
      inField = true;
      if (ch === '"') inQuotes = true;
    }
  }
  return n;
}

type Pick1 = { delimiter: CsvSeparator; consistent: boolean } | { ambiguous: CsvSeparator[] };

/**
 * The delimiter of the lines from a header line on. A candidate (comma, semicolon, tab, pipe) counts when the header
 * line holds it outside quotes and at least 90% of the sampled lines hold it as often. One such candidate is the
 * delimiter; two or more equally consistent ones are ambiguous, and the more consistent wins otherwise. Only when no
 * one-character delimiter is consistent are runs of whitespace tried (at least two fields, and the same number on 90%
 * of the lines): a comma file with one space in every line is still a comma file. Failing that, the same at 50% (one
 * character first), not consistent. None of them: one column, comma.
 */
export function detectDelimiter(lines: readonly string[]): Pick1 {
  const sample = lines.filter((l) => l.trim().length > 0).slice(0, sampleLines);
  const share = (counts: number[]) => counts.filter((c) => c === counts[0]).length / counts.length;
  const scored: { d: CsvSeparator; score: number }[] = [];
  for (const d of csvDelimiters) {
    const counts = sample.map((l) => countOutsideQuotes(l, d));
    if ((counts[0] ?? 0) > 0) scored.push({ d, score: share(counts) });
  }
  scored.sort((x, y) => y.score - x.score);
  const best = scored[0];
  if (best && best.score >= consistentShare) {
    const tied = scored.filter((c) => c.score === best.score);
    if (tied.length > 1) return { ambiguous: tied.map((c) => c.d) };
    return { delimiter: best.d, consistent: true };
  }
  const fields = sample.map(whitespaceFieldCount);
  if (sample.length > 1 && (fields[0] ?? 0) > 1 && share(fields) >= consistentShare) return { delimiter: 'whitespace', consistent: true };
  if (best && best.score >= 0.5) {
    const tied = scored.filter((c) => c.score === best.score);
    if (tied.length > 1) return { ambiguous: tied.map((c) => c.d) };
    return { delimiter: best.d, consistent: false };
  }
  // Blanks split most lines alike but not all (a missing value, a name with a space): rows of another count are
  // rejected one by one, which says more than reading every line as one value.
  if (sample.length > 1 && (fields[0] ?? 0) > 1 && share(fields) >= 0.5) return { delimiter: 'whitespace', consistent: false };
  return { delimiter: ',', consistent: false };
}

function countOutsideQuotes(line: string, delimiter: string): number {
  let inQuotes = false;
  let n = 0;
  for (const ch of line) {
    if (ch === '"') inQuotes = !inQuotes;
    else if (ch === delimiter && !inQuotes) n += 1;
  }
  return n;
}

const shown = (d: CsvSeparator) => (d === '\t' ? "'\\t'" : `'${d}'`);

/** Header names must be present, unique and few enough; a person gets the offending positions. */
export function checkHeader(names: readonly string[]): void {
  if (names.length > csvLimits.maxColumns) {
    throw new BadInputError('CSV_TOO_MANY_COLUMNS', `The header has ${names.length} columns; at most ${csvLimits.maxColumns} are supported. Split the file.`);
  }
  const blank = names.findIndex((n) => n.trim() === '');
  if (blank >= 0 && names.length > 1) {
    throw new BadInputError('CSV_HEADER_BLANK', `Header column ${blank + 1} has no name. Give every column a name in the first line.`);
  }
  // Positions, not names: the header is the object's text, never echoed into an error.
  const firstAt = new Map<string, number>();
  const dups: string[] = [];
  names.forEach((n, i) => {
    const first = firstAt.get(n);
    if (first === undefined) firstAt.set(n, i);
    else dups.push(`${i + 1} (same as ${first + 1})`);
  });
  if (dups.length > 0) {
    const shown = dups.length > 10 ? `${dups.slice(0, 10).join(', ')} and ${dups.length - 10} more` : dups.join(', ');
    throw new BadInputError('CSV_DUPLICATE_HEADER', `The header repeats a column name: column ${shown}, counting from 1. Rename them so every column name is unique.`);
  }
}

/**
 * Sniffs gzip, encoding, delimiter, preamble and header from the head of a file; `options` (the request's csv.delimiter,
 * csv.encoding, csv.skipLines) replace what would be sniffed. Throws BadInputError for an empty file, a header only
 * (when the head is the whole file), binary content, an encoding or delimiter that cannot be told apart, lines above
 * the header that look like a title or comments, a header line beyond the record bound and unusable header names.
 */
export function sniffCsv(head: CsvHead, options: CsvDialectOptions = {}): CsvFormat {
  const { encoding, bomBytes } = detectEncoding(head.bytes, head.complete, options.encoding);
  const skipLines = options.skipLines ?? 0;
  const text = dropLines(decodeHead(head.bytes, encoding, bomBytes), skipLines);
  if (text === undefined) {
    throw new BadInputError('CSV_LINE_TOO_LONG', `csv.skipLines is ${skipLines}, but the first ${csvLimits.headBytes} bytes do not hold that many lines. Check csv.skipLines.`);
  }
  if (text.trim() === '') {
    throw new BadInputError('CSV_EMPTY', 'The file has no content (nothing but whitespace). Upload a CSV with a header line and data rows.');
  }
  const lines = headLines(text, head.complete);
  if (lines.length === 0 || (lines.length === 1 && !head.complete)) {
    throw new BadInputError('CSV_LINE_TOO_LONG', `The first line is longer than ${csvLimits.headBytes} bytes, so it cannot be a header. Check that the file has line breaks and that no quote is left open.`);
  }
  let delimiter: CsvSeparator;
  if (options.delimiter) delimiter = options.delimiter;
  else {
    const found = detectDelimiter(lines);
    if ('ambiguous' in found) {
      throw new BadInputError(
        'CSV_DELIMITER_AMBIGUOUS',
        `The lines are split as consistently by ${found.ambiguous.map(shown).join(' as by ')}, so the delimiter cannot be told. Set csv.delimiter to ${found.ambiguous.map(shown).join(' or ')}.`,
      );
    }
    if (!found.consistent && options.skipLines === undefined) refusePreamble(lines);
    delimiter = found.delimiter;
  }
  const header = parseHeader(text, delimiter);
  checkHeader(header);
  if (head.complete && lines.slice(1).every((l) => l.trim() === '')) {
    throw new BadInputError('CSV_HEADER_ONLY', 'The file has a header line but no data rows. Add rows below the header.');
  }
  return { gzip: head.gzip, encoding, bomBytes, delimiter, skipLines, header };
}

/**
 * A title or comment lines above the header: the lines from the top do not agree on a delimiter, but from a later line
 * on (within the first 10) they do. pandas would take the first line as the header and read nonsense, so the file is
 * refused, naming how many lines to skip.
 */
function refusePreamble(lines: readonly string[]): void {
  const nonEmpty = lines.map((l, i) => ({ l, i })).filter((x) => x.l.trim().length > 0);
  for (let p = 1; p <= maxPreamble && p < nonEmpty.length - 1; p += 1) {
    // An odd number of quotes leaves a value open: the lines above are a record broken over lines, no preamble.
    if ((nonEmpty[p - 1]!.l.split('"').length - 1) % 2 === 1) return;
    const found = detectDelimiter(nonEmpty.slice(p).map((x) => x.l));
    if ('ambiguous' in found || !found.consistent) continue;
    const at = nonEmpty[p]!.i;
    throw new BadInputError(
      'CSV_PREAMBLE',
      `The first ${at} line(s) do not split like the lines below them (delimited by ${found.delimiter === 'whitespace' ? 'runs of whitespace' : shown(found.delimiter)} from line ${at + 1} on): they look like a title or comments above the header. Set csv.skipLines to ${at}, or remove them.`,
    );
  }
}

/** `text` after its first `n` lines, or undefined when it has fewer complete lines. */
function dropLines(text: string, n: number): string | undefined {
  let at = 0;
  for (let i = 0; i < n; i += 1) {
    const next = text.slice(at).search(/\r\n|\n|\r/);
    if (next < 0) return undefined;
    at += next + (text.startsWith('\r\n', at + next) ? 2 : 1);
  }
  return text.slice(at);
}

function parseHeader(text: string, delimiter: CsvSeparator): string[] {
  const firstLine = delimiter === 'whitespace' ? whitespaceToCsv(text.slice(0, Math.min(text.length, csvLimits.maxRecordChars + 1))) : text;
  let records: string[][];
  try {
    records = parse(firstLine, { delimiter: readDelimiter({ delimiter }), to_line: 1, relax_column_count: true, max_record_size: csvLimits.maxRecordChars });
  } catch (err) {
    throw new BadInputError('CSV_HEADER_UNREADABLE', `The first line cannot be read as a CSV header (${csvParseWhere(err as { code?: unknown })}). Check its quotes.`);
  }
  const first = records[0];
  if (!first) throw new BadInputError('CSV_HEADER_UNREADABLE', 'The first line cannot be read as a CSV header (it holds no record). Check its quotes.');
  return first;
}
