import { Writable } from 'node:stream';

/** Min/max pairs per pixel, interleaved by channel: [c0min, c0max, c1min, c1max, …] for each pixel. */
export interface Peaks {
  readonly channels: 1 | 2;
  readonly sampleRate: number;
  readonly samplesPerPixel: number;
  /** Pixels. */
  readonly length: number;
  readonly data: Int8Array;
}

/**
 * Streams interleaved s16le PCM (one or two channels) into 8-bit peaks, the way audiowaveform does:
 * the 16-bit min and max of each channel over every `samplesPerPixel` frames, then scaled to 8 bits
 * (floor(v / 256)); the last pixel covers the frames left over. Memory is the peaks only (2.5 MB for an
 * hour of stereo at 44.1 kHz); a 256 KiB chunk is ~0.2 ms of work, so the event loop keeps serving
 * heartbeats while an hour of audio streams through.
 */
export class PeakWriter extends Writable {
  private readonly frameBytes: number;
  private data: Int8Array;
  private length = 0;
  /** Frames already folded into the pixel in progress, and its running extremes. */
  private count = 0;
  private min0 = 32767;
  private max0 = -32768;
  private min1 = 32767;
  private max1 = -32768;
  private carry = Buffer.alloc(0);

  constructor(
    private readonly channels: 1 | 2,
    private readonly sampleRate: number,
    private readonly samplesPerPixel: number,
    expectedFrames = 0,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.frameBytes = 2 * channels;
    this.data = new Int8Array(Math.max(1024, Math.ceil((expectedFrames * 1.01) / samplesPerPixel) + 1) * 2 * channels);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    let buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const usable = buf.length - (buf.length % this.frameBytes);
    // The typed-array view needs an offset that is a multiple of its element size; pipe chunks have one.
    if (buf.byteOffset % this.frameBytes !== 0) buf = Buffer.from(buf);
    const frames = usable / this.frameBytes;
    // Stereo frames are read as one Int32 each (left in the low half: s16le on a little-endian host),
    // one load per frame instead of two: the loop is most of the task's CPU.
    if (this.channels === 1) this.fold(new Int16Array(buf.buffer, buf.byteOffset, frames), frames, this.scanMono);
    else this.fold(new Int32Array(buf.buffer, buf.byteOffset, frames), frames, this.scanStereo);
    this.carry = Buffer.from(buf.subarray(usable));
    done();
  }

  override _final(done: (error?: Error | null) => void): void {
    if (this.count > 0) this.pushPixel();
    done();
  }

  /** The peaks computed so far (all of them once the stream has finished). */
  peaks(): Peaks {
    return {
      channels: this.channels,
      sampleRate: this.sampleRate,
      samplesPerPixel: this.samplesPerPixel,
      length: this.length,
      data: this.data.subarray(0, this.length * 2 * this.channels),
    };
  }

  /** Walks the frames a pixel at a time (the first and last pieces may be partial pixels). */
  private fold<A extends Int16Array | Int32Array>(frames: A, n: number, scan: (this: PeakWriter, s: A, from: number, to: number) => void): void {
    for (let at = 0; at < n; ) {
      const to = Math.min(n, at + this.samplesPerPixel - this.count);
      scan.call(this, frames, at, to);
      this.count += to - at;
      at = to;
      if (this.count === this.samplesPerPixel) this.pushPixel();
    }
  }

  // The scans keep the extremes in locals over at most one pixel of frames: this is the hot path.
  private scanMono(s: Int16Array, from: number, to: number): void {
    let { min0, max0 } = this;
    for (let i = from; i < to; i++) {
      const v = s[i] as number;
      if (v < min0) min0 = v;
      if (v > max0) max0 = v;
    }
    this.min0 = min0;
    this.max0 = max0;
  }

  private scanStereo(s: Int32Array, from: number, to: number): void {
    let { min0, max0, min1, max1 } = this;
    for (let i = from; i < to; i++) {
      const frame = s[i] as number;
      const l = (frame << 16) >> 16;
      const r = frame >> 16;
      if (l < min0) min0 = l;
      if (l > max0) max0 = l;
      if (r < min1) min1 = r;
      if (r > max1) max1 = r;
    }
    this.min0 = min0;
    this.max0 = max0;
    this.min1 = min1;
    this.max1 = max1;
  }

  /** Appends the pixel in progress (scaled to 8 bits) and starts the next one. */
  private pushPixel(): void {
    const values = 2 * this.channels;
    const at = this.length * values;
    if (at + values > this.data.length) {
      const grown = new Int8Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[at] = this.min0 >> 8;
    this.data[at + 1] = this.max0 >> 8;
    if (this.channels === 2) {
      this.data[at + 2] = this.min1 >> 8;
      this.data[at + 3] = this.max1 >> 8;
    }
    this.length += 1;
    this.count = 0;
    this.min0 = this.min1 = 32767;
    this.max0 = this.max1 = -32768;
  }
}
