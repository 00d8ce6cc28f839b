import { Readable } from 'node:stream';
import { z } from 'zod';
import type { Peaks } from './peaks.js';

/** BBC audiowaveform's JSON format, version 2, as written here (8-bit only, which peaks.js requires). */
export const WaveformJson = z.strictObject({
  version: z.literal(2),
  channels: z.union([z.literal(1), z.literal(2)]),
  sample_rate: z.number().int().positive(),
  samples_per_pixel: z.number().int().positive(),
  bits: z.literal(8),
  length: z.number().int().nonnegative(),
  /** Per pixel, per channel: min, max. */
  data: z.array(z.number().int().min(-128).max(127)),
});
export type WaveformJson = z.infer<typeof WaveformJson>;

const valuesPerChunk = 64 * 1024;

/**
 * The JSON document as a stream of text chunks: an hour of stereo peaks is 2.5 million numbers, and one
 * JSON.stringify of them would hold the event loop for a noticeable time.
 */
export function waveformJsonStream(peaks: Peaks): Readable {
  const header: Omit<WaveformJson, 'data'> = {
    version: 2,
    channels: peaks.channels,
    sample_rate: peaks.sampleRate,
    samples_per_pixel: peaks.samplesPerPixel,
    bits: 8,
    length: peaks.length,
  };
  const head = JSON.stringify(header).slice(0, -1);
  return Readable.from(
    (function* () {
      yield `${head},"data":[`;
      for (let at = 0; at < peaks.data.length; at += valuesPerChunk) {
        yield (at > 0 ? ',' : '') + peaks.data.subarray(at, at + valuesPerChunk).join(',');
      }
      yield ']}\n';
    })(),
    { objectMode: false },
  );
}

/** audiowaveform's binary `.dat`, version 2: a 24-byte little-endian header, then the int8 values. */
export function waveformDat(peaks: Peaks): Buffer {
  const header = Buffer.alloc(24);
  header.writeInt32LE(2, 0); // version
  header.writeUInt32LE(1, 4); // flags: bit 0 set = 8-bit values
  header.writeInt32LE(peaks.sampleRate, 8);
  header.writeInt32LE(peaks.samplesPerPixel, 12);
  header.writeUInt32LE(peaks.length, 16);
  header.writeInt32LE(peaks.channels, 20);
  return Buffer.concat([header, Buffer.from(peaks.data.buffer, peaks.data.byteOffset, peaks.data.byteLength)]);
}

/**
 * The peaks as raw signed 8-bit audio, one frame per min and one per max ([c0min, c1min], [c0max, c1max]),
 * which ffmpeg's showwavespic draws as the envelope: the picture comes from the same numbers as the JSON,
 * and rendering it needs no second decode of the upload (showwavespic keeps all its input in memory).
 * showwavespic draws nothing from fewer frames than the picture is wide, so a short file's pixels are
 * repeated until there are at least `minFrames`.
 */
export function peaksAsPcm(peaks: Peaks, minFrames = 0): Buffer {
  const ch = peaks.channels;
  const repeat = Math.max(1, Math.ceil(minFrames / Math.max(1, 2 * peaks.length)));
  const out = Buffer.alloc(peaks.data.length * repeat);
  let at = 0;
  for (let px = 0; px < peaks.length; px++) {
    for (let r = 0; r < repeat; r++, at += 2 * ch) {
      for (let c = 0; c < ch; c++) {
        const from = (px * ch + c) * 2;
        out.writeInt8(peaks.data[from] as number, at + c);
        out.writeInt8(peaks.data[from + 1] as number, at + ch + c);
      }
    }
  }
  return out;
}
