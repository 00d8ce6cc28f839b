import { isUtf8 } from 'node:buffer';
import { createGunzip, constants as zlibConstants } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { BadInputError } from '../../../contract/errors.js';
import type { ObjectRef } from '../../../contract/job.js';
import type { ObjectStore } from '../../../storage/object-store.js';
import { csvParseWhere } from './csv-parse-stretch.js';
import { csvLimits } from './limits.js';

export type CsvEncoding = 'utf-8' | 'utf-16le' | 'utf-16be';
export const csvDelimiters = [',', ';', '\t', '|'] as const;
export type CsvDelimiter = (typeof csvDelimiters)[number];

/** What a CSV input looks like, decided from its first bytes; validation and analysis re-sniff, nothing else travels. */
export interface CsvFormat {
  gzip: boolean;
  encoding: CsvEncoding;
  /** Bytes of byte-order mark to skip after decompression. */
  bomBytes: number;
  delimiter: CsvDelimiter;
  header: string[];
}

export interface CsvHead {
  /** The first decompressed bytes, at most csvLimits.headBytes. */
  bytes: Buffer;
  gzip: boolean;
  /** True when `bytes` is the whole (decompressed) file. */
  complete: boolean;
}

const isGzip = (b: Buffer) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** Reads the first bytes of an input, decompressing a gzip head without inflating the rest (a bomb stays cheap). */
export async function readCsvHead(store: ObjectStore, ref: ObjectRef, signal: AbortSignal): Promise<CsvHead> {
  const raw = await store.readHead(ref, csvLimits.headBytes + 1, signal);
  if (!isGzip(raw)) {
    const complete = raw.length <= csvLimits.headBytes;
    return { bytes: complete ? raw : raw.subarray(0, csvLimits.headBytes), gzip: false, complete };
  }
  const { bytes, ended } = await gunzipHead(raw, csvLimits.headBytes);
  return { bytes, gzip: true, complete: ended && raw.length <= csvLimits.headBytes };
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

/** Encoding from the byte-order mark; without one the file must be valid UTF-8. */
export function detectEncoding(head: Buffer, complete: boolean): { encoding: CsvEncoding; bomBytes: number } {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return { encoding: 'utf-8', bomBytes: 3 };
  if (head[0] === 0xff && head[1] === 0xfe) return { encoding: 'utf-16le', bomBytes: 2 };
  if (head[0] === 0xfe && head[1] === 0xff) return { encoding: 'utf-16be', bomBytes: 2 };
  if (looksBinary(head)) {
    throw new BadInputError(
      'CSV_NOT_TEXT',
      'The file is not text (it contains NUL or other control bytes), so it cannot be a CSV. Upload the CSV itself; UTF-16 files need a byte-order mark.',
    );
  }
  // A multi-byte character may be cut at the end of an incomplete head: drop up to 3 trailing bytes.
  const whole = complete ? head : trimPartialUtf8(head);
  if (!isUtf8(whole)) {
    throw new BadInputError(
      'CSV_ENCODING_UNSUPPORTED',
      'The file is neither UTF-8 nor UTF-16 with a byte-order mark (it may be Latin-1 or Windows-1252). Save it as UTF-8 and upload it again.',
    );
  }
  return { encoding: 'utf-8', bomBytes: 0 };
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
  if (encoding === 'utf-16be') return new TextDecoder('utf-16be').decode(body, { stream: true });
  if (encoding === 'utf-16le') return new TextDecoder('utf-16le').decode(body, { stream: true });
  return new TextDecoder('utf-8').decode(body, { stream: true });
}

/** Complete lines of the head (the last, possibly cut, line is dropped unless the head is the whole file). */
function headLines(text: string, complete: boolean): string[] {
  const lines = text.split(/\r\n|\n|\r/);
  if (!complete) lines.pop();
  return lines;
}

/**
 * The delimiter whose count outside quotes is the same, and non-zero, on the most of the first lines
 * (ties go to the earlier of comma, semicolon, tab, pipe). A one-column file falls back to comma.
 */
export function detectDelimiter(lines: readonly string[]): CsvDelimiter {
  const sample = lines.filter((l) => l.length > 0).slice(0, 50);
  let best: CsvDelimiter = ',';
  let bestScore = 0;
  for (const d of csvDelimiters) {
    const counts = sample.map((l) => countOutsideQuotes(l, d));
    const first = counts[0] ?? 0;
    if (first === 0) continue;
    const score = counts.filter((c) => c === first).length * 1000 + first;
    if (score > bestScore) {
      best = d;
      bestScore = score;
    }
  }
  return best;
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
 * Sniffs gzip, encoding, delimiter and header from the head of a file. Throws BadInputError for an empty
 * file, a header only (when the head is the whole file), binary content, unsupported encodings,
 * a header line beyond the record bound and unusable header names.
 */
export function sniffCsv(head: CsvHead): CsvFormat {
  const { encoding, bomBytes } = detectEncoding(head.bytes, head.complete);
  const text = decodeHead(head.bytes, encoding, bomBytes);
  if (text.trim() === '') {
    throw new BadInputError('CSV_EMPTY', 'The file has no content (nothing but whitespace). Upload a CSV with a header line and data rows.');
  }
  const lines = headLines(text, head.complete);
  if (lines.length === 0 || (lines.length === 1 && !head.complete)) {
    throw new BadInputError('CSV_LINE_TOO_LONG', `The first line is longer than ${csvLimits.headBytes} bytes, so it cannot be a header. Check that the file has line breaks and that no quote is left open.`);
  }
  const delimiter = detectDelimiter(lines);
  const header = parseHeader(text, delimiter);
  checkHeader(header);
  if (head.complete && lines.slice(1).every((l) => l.trim() === '')) {
    throw new BadInputError('CSV_HEADER_ONLY', 'The file has a header line but no data rows. Add rows below the header.');
  }
  return { gzip: head.gzip, encoding, bomBytes, delimiter, header };
}

function parseHeader(text: string, delimiter: CsvDelimiter): string[] {
  let records: string[][];
  try {
    records = parse(text, { delimiter, to_line: 1, relax_column_count: true, max_record_size: csvLimits.maxRecordChars });
  } catch (err) {
    throw new BadInputError('CSV_HEADER_UNREADABLE', `The first line cannot be read as a CSV header (${csvParseWhere(err as { code?: unknown })}). Check its quotes.`);
  }
  const first = records[0];
  if (!first) throw new BadInputError('CSV_HEADER_UNREADABLE', 'The first line cannot be read as a CSV header (it holds no record). Check its quotes.');
  return first;
}
