import { closeSync, openSync, readSync, writeSync } from 'node:fs';

/**
 * Append-only binary files for the analysis, written and read synchronously: they run on the parsing
 * thread, where blocking costs the daemon nothing, and plain sync calls keep the hot loop simple.
 */
export class SpillWriter {
  private readonly fd: number;
  private buffer: Buffer;
  private used = 0;

  constructor(readonly path: string, bufferBytes = 1 << 20) {
    this.fd = openSync(path, 'w', 0o600);
    this.buffer = Buffer.allocUnsafe(bufferBytes);
  }

  /** Space for `bytes` more bytes at `offset()`, flushing first when full. */
  reserve(bytes: number): Buffer {
    if (this.used + bytes > this.buffer.length) this.flush();
    if (bytes > this.buffer.length) this.buffer = Buffer.allocUnsafe(bytes);
    return this.buffer;
  }

  /** Appends `bytes` as they are, after what the buffer holds. */
  append(bytes: Uint8Array): void {
    this.flush();
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
  }

  get offset(): number {
    return this.used;
  }

  advance(bytes: number): void {
    this.used += bytes;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private flush(): void {
    let done = 0;
    while (done < this.used) done += writeSync(this.fd, this.buffer, done, this.used - done);
    this.used = 0;
  }
}

/** Reads a file of float64 values in blocks: one Float64Array per block, reused between calls. */
export function* readFloat64Blocks(path: string, valuesPerBlock = 1 << 16): Generator<Float64Array> {
  const fd = openSync(path, 'r');
  const bytes = Buffer.allocUnsafe(valuesPerBlock * 8);
  const values = new Float64Array(bytes.buffer, bytes.byteOffset, valuesPerBlock);
  try {
    for (;;) {
      let got = 0;
      while (got < bytes.length) {
        const n = readSync(fd, bytes, got, bytes.length - got, null);
        if (n === 0) break;
        got += n;
      }
      if (got === 0) return;
      yield values.subarray(0, Math.floor(got / 8));
      if (got < bytes.length) return;
    }
  } finally {
    closeSync(fd);
  }
}
