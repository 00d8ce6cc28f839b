import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import { TextDecoder } from 'node:util';
import { createGunzip } from 'node:zlib';
import { BadInputError } from '../../../contract/errors.js';
import { csvLimits } from './limits.js';
import type { CsvFormat } from './sniff.js';

/**
 * The byte stages between the raw object and the CSV parser: gunzip behind a bomb guard, then a
 * check-and-transcode step whose output is always valid UTF-8 without BOM or NUL.
 */
export function decodingStages(format: Pick<CsvFormat, 'gzip' | 'encoding' | 'bomBytes'>): Transform[] {
  const text = new Utf8Normaliser(format.encoding, format.bomBytes);
  if (!format.gzip) return [text];
  const compressed = new ByteCounter();
  const gunzip = createGunzip();
  const guard = new DecompressionGuard(() => compressed.bytes);
  return [compressed, gunzip, guard, text];
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

/** Passes UTF-8 through after checking it, transcodes UTF-16; refuses NUL bytes and broken sequences. */
class Utf8Normaliser extends Transform {
  private toSkip: number;
  private offset = 0;
  private carry: Buffer = Buffer.alloc(0);
  private readonly utf16: TextDecoder | undefined;

  constructor(encoding: CsvFormat['encoding'], bomBytes: number) {
    super();
    this.toSkip = bomBytes;
    this.utf16 = encoding === 'utf-8' ? undefined : new TextDecoder(encoding, { fatal: true });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.toSkip > 0) {
      const skip = Math.min(this.toSkip, chunk.length);
      this.toSkip -= skip;
      this.offset += skip;
      chunk = chunk.subarray(skip);
    }
    try {
      done(null, this.utf16 ? this.transcode(chunk, true) : this.check(chunk));
    } catch (err) {
      done(err as Error);
    }
    this.offset += chunk.length;
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.utf16) done(null, this.transcode(Buffer.alloc(0), false));
      else if (this.carry.length > 0) throw this.invalid(this.offset - this.carry.length);
      else done();
    } catch (err) {
      done(err as Error);
    }
  }

  private transcode(chunk: Buffer, stream: boolean): Buffer {
    let text: string;
    try {
      text = this.utf16!.decode(chunk, { stream });
    } catch (err) {
      throw new BadInputError('CSV_ENCODING_INVALID', `The file declares UTF-16 by its byte-order mark but holds invalid UTF-16 near byte ${this.offset}. Save it again as UTF-8 or UTF-16.`, { cause: err });
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
    return new BadInputError('CSV_ENCODING_INVALID', `The file is not valid UTF-8 (a broken byte sequence in the chunk starting near byte ${near}); it may be Latin-1 or Windows-1252 in part. Save it as UTF-8 and upload it again.`);
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
