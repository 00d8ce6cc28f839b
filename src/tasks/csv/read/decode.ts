import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import { TextDecoder } from 'node:util';
import { createGunzip } from 'node:zlib';
import { BadInputError } from '../../../contract/errors.js';
import { csvLimits } from './limits.js';
import type { CsvFormat } from './sniff.js';
import { WhitespaceToCsvStage } from './whitespace.js';

/**
 * The byte stages between the raw object and the CSV parser: gunzip behind a bomb guard, then a
 * check-and-transcode step whose output is always valid UTF-8 without BOM or NUL.
 */
export function decodingStages(format: Pick<CsvFormat, 'gzip' | 'encoding' | 'bomBytes' | 'delimiter' | 'skipLines'>): Transform[] {
  const text: Transform[] = [new Utf8Normaliser(format.encoding, format.bomBytes)];
  if (format.skipLines > 0) text.push(new LineSkipper(format.skipLines));
  if (format.delimiter === 'whitespace') text.push(new WhitespaceToCsvStage());
  if (!format.gzip) return text;
  const compressed = new ByteCounter();
  const gunzip = createGunzip();
  const guard = new DecompressionGuard(() => compressed.bytes);
  return [compressed, gunzip, guard, ...text];
}

/** Drops the first `lines` lines (ended by LF, CR LF or CR) of UTF-8 text: a title or comments above the header (csv.skipLines). */
class LineSkipper extends Transform {
  private afterCr = false;
  constructor(private lines: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.lines === 0 && !this.afterCr) return done(null, chunk);
    let i = 0;
    if (this.afterCr) {
      // The CR that ended the last skipped line may be the first half of a CR LF.
      this.afterCr = false;
      if (chunk[0] === 0x0a) i = 1;
    }
    for (; i < chunk.length && this.lines > 0; i += 1) {
      const byte = chunk[i];
      if (byte === 0x0a) this.lines -= 1;
      else if (byte === 0x0d) {
        this.lines -= 1;
        if (i + 1 < chunk.length) {
          if (chunk[i + 1] === 0x0a) i += 1;
        } else this.afterCr = true;
      }
    }
    done(null, chunk.subarray(i));
  }
}

class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/** Stops a gzip bomb: too large in total, or expanding far beyond what real CSV does. */
class DecompressionGuard extends Transform {
  private bytes = 0;
  constructor(private readonly compressedBytes: () => number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    const ratio = this.bytes / Math.max(1, this.compressedBytes());
    if (this.bytes > csvLimits.maxDecompressedBytes || (this.bytes > csvLimits.ratioCheckAfterBytes && ratio > csvLimits.maxCompressionRatio)) {
      done(
        new BadInputError(
          'CSV_DECOMPRESSED_TOO_LARGE',
          `The gzip file expands more than ${csvLimits.maxCompressionRatio}x (or past ${csvLimits.maxDecompressedBytes / 1024 ** 3} GiB), which real CSV does not: it looks like a decompression bomb. Upload the real data, or upload it uncompressed.`,
        ),
      );
      return;
    }
    done(null, chunk);
  }
}

/**
 * Passes UTF-8 through after checking it, transcodes UTF-16 and Windows-1252 (streaming TextDecoder) and Latin-1 (each
 * byte one character); refuses NUL bytes and broken sequences.
 */
class Utf8Normaliser extends Transform {
  private toSkip: number;
  private offset = 0;
  private carry: Buffer = Buffer.alloc(0);
  private readonly decoder: TextDecoder | undefined;
  private readonly latin1: boolean;

  constructor(private readonly encoding: CsvFormat['encoding'], bomBytes: number) {
    super();
    this.toSkip = bomBytes;
    this.latin1 = encoding === 'latin-1';
    this.decoder = encoding === 'utf-8' || encoding === 'latin-1' ? undefined : new TextDecoder(encoding, { fatal: true });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.toSkip > 0) {
      const skip = Math.min(this.toSkip, chunk.length);
      this.toSkip -= skip;
      this.offset += skip;
      chunk = chunk.subarray(skip);
    }
    try {
      done(null, this.latin1 ? this.fromLatin1(chunk) : this.decoder ? this.transcode(chunk, true) : this.check(chunk));
    } catch (err) {
      done(err as Error);
    }
    this.offset += chunk.length;
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.decoder) done(null, this.transcode(Buffer.alloc(0), false));
      else if (this.carry.length > 0) throw this.invalid(this.offset - this.carry.length);
      else done();
    } catch (err) {
      done(err as Error);
    }
  }

  private fromLatin1(chunk: Buffer): Buffer {
    const nul = chunk.indexOf(0);
    if (nul >= 0) throw notText(this.offset + nul);
    return Buffer.from(chunk.toString('latin1'), 'utf8');
  }

  private transcode(chunk: Buffer, stream: boolean): Buffer {
    let text: string;
    try {
      text = this.decoder!.decode(chunk, { stream });
    } catch (err) {
      throw new BadInputError('CSV_ENCODING_INVALID', `The file is read as ${this.encoding} (by its byte-order mark or csv.encoding) but holds invalid ${this.encoding} near byte ${this.offset}. Save it again as UTF-8, or set csv.encoding to the file's encoding.`, { cause: err });
    }
    const nul = text.indexOf('\0');
    if (nul >= 0) throw notText(this.offset);
    return Buffer.from(text, 'utf8');
  }

  private check(chunk: Buffer): Buffer {
    const nul = chunk.indexOf(0);
    if (nul >= 0) throw notText(this.offset + nul);
    const bytes = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const end = completeUtf8End(bytes);
    const whole = bytes.subarray(0, end);
    if (!isUtf8(whole)) throw this.invalid(this.offset - this.carry.length);
    this.carry = Buffer.from(bytes.subarray(end));
    return whole;
  }

  private invalid(near: number): BadInputError {
    return new BadInputError('CSV_ENCODING_INVALID', `The file is not valid UTF-8 (a broken byte sequence in the chunk starting near byte ${near}), though its first megabyte is; it may be Latin-1 or Windows-1252 in part. Set csv.encoding to 'latin-1' or 'windows-1252', or save it as UTF-8.`);
  }
}

/** Whether a byte stream, given in pieces cut anywhere, is valid UTF-8. */
export class Utf8Check {
  private carry: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): boolean {
    const bytes = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const end = completeUtf8End(bytes);
    this.carry = Buffer.from(bytes.subarray(end));
    return isUtf8(bytes.subarray(0, end));
  }

  end(): boolean {
    return this.carry.length === 0;
  }
}

function notText(at: number): BadInputError {
  return new BadInputError('CSV_NOT_TEXT', `The file contains a NUL byte at byte ${at}, so it is binary, not a CSV. Upload the CSV itself.`);
}

/** Where the last complete UTF-8 character ends (a sequence may straddle two chunks). */
function completeUtf8End(b: Buffer): number {
  const len = b.length;
  for (let back = 1; back <= Math.min(3, len); back += 1) {
    const byte = b[len - back] ?? 0;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? len - back : len;
  }
  return len;
}
