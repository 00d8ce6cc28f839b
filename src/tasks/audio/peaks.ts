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
 * hour of stereo at 44.1 kHz); each chunk is a few tens of microseconds of work, so the event loop keeps
 * serving heartbeats while an hour of audio streams through.
 */
export class PeakWriter extends Writable {
  private readonly frameBytes: number;
  private data: Int8Array;
  private length = 0;
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
    super({ highWaterMark: 256 * 1024 });
    this.frameBytes = 2 * channels;
    this.data = new Int8Array(Math.max(1024, Math.ceil((expectedFrames * 1.01) / samplesPerPixel) + 1) * 2 * channels);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    let buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const usable = buf.length - (buf.length % this.frameBytes);
    // Int16Array needs an even offset; chunks from a pipe almost always have one.
    if (buf.byteOffset % 2 !== 0) buf = Buffer.from(buf);
    const samples = new Int16Array(buf.buffer, buf.byteOffset, usable / 2);
    if (this.channels === 1) this.mono(samples);
    else this.stereo(samples);
    this.carry = Buffer.from(buf.subarray(usable));
    done();
  }

  override _final(done: (error?: Error | null) => void): void {
    if (this.count > 0) this.flushPixel();
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

  // Two specialised loops with the running extremes in locals: this is the hot path.
  private mono(s: Int16Array): void {
    const spp = this.samplesPerPixel;
    let { min0, max0, count } = this;
    for (let i = 0; i < s.length; i++) {
      const v = s[i] as number;
      if (v < min0) min0 = v;
      if (v > max0) max0 = v;
      if (++count === spp) {
        this.push1(min0, max0);
        min0 = 32767;
        max0 = -32768;
        count = 0;
      }
    }
    this.min0 = min0;
    this.max0 = max0;
    this.count = count;
  }

  private stereo(s: Int16Array): void {
    const spp = this.samplesPerPixel;
    let { min0, max0, min1, max1, count } = this;
    for (let i = 0; i < s.length; i += 2) {
      const l = s[i] as number;
      const r = s[i + 1] as number;
      if (l < min0) min0 = l;
      if (l > max0) max0 = l;
      if (r < min1) min1 = r;
      if (r > max1) max1 = r;
      if (++count === spp) {
        this.push2(min0, max0, min1, max1);
        min0 = min1 = 32767;
        max0 = max1 = -32768;
        count = 0;
      }
    }
    this.min0 = min0;
    this.max0 = max0;
    this.min1 = min1;
    this.max1 = max1;
    this.count = count;
  }

  private flushPixel(): void {
    if (this.channels === 1) this.push1(this.min0, this.max0);
    else this.push2(this.min0, this.max0, this.min1, this.max1);
    this.count = 0;
  }

  private reserve(values: number): number {
    const at = this.length * 2 * this.channels;
    if (at + values > this.data.length) {
      const grown = new Int8Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.length += 1;
    return at;
  }

  private push1(min: number, max: number): void {
    const at = this.reserve(2);
    this.data[at] = min >> 8;
    this.data[at + 1] = max >> 8;
  }

  private push2(min0: number, max0: number, min1: number, max1: number): void {
    const at = this.reserve(4);
    this.data[at] = min0 >> 8;
    this.data[at + 1] = max0 >> 8;
    this.data[at + 2] = min1 >> 8;
    this.data[at + 3] = max1 >> 8;
  }
}
