import assert from 'node:assert/strict';
import { test } from 'node:test';
import { text } from 'node:stream/consumers';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import WaveformData from 'waveform-data';
import { PeakWriter, type Peaks } from '../../src/tasks/audio/waveform/peaks.js';
import { WaveformJson, waveformDat, waveformJsonStream, peaksAsPcm } from '../../src/tasks/audio/waveform/waveform-format.js';
import { referencePeaks } from '../helpers/audio-media.js';

function randomPcm(frames: number, channels: number, seed: number): Int16Array {
  const s = new Int16Array(frames * channels);
  let x = seed;
  for (let i = 0; i < s.length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s[i] = (x % 65536) - 32768;
  }
  return s;
}

/** Feeds the bytes in chunks of awkward sizes (odd, splitting samples and frames). */
async function peaksOf(samples: Int16Array, channels: 1 | 2, spp: number, chunk: number): Promise<Peaks> {
  const bytes = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunk) chunks.push(Buffer.from(bytes.subarray(at, at + chunk)));
  const writer = new PeakWriter(channels, 44100, spp, 10);
  await pipeline(Readable.from(chunks), writer);
  return writer.peaks();
}

for (const channels of [1, 2] as const) {
  test(`peaks: ${channels} channel(s), any chunking, last partial pixel, growth past the estimate`, async () => {
    const frames = 256 * 37 + 101;
    const samples = randomPcm(frames, channels, 7 + channels);
    for (const chunk of [1, 3, 4099, 65536]) {
      const peaks = await peaksOf(samples, channels, 256, chunk);
      assert.equal(peaks.length, Math.ceil(frames / 256));
      assert.deepEqual([...peaks.data], referencePeaks(samples, channels, 256), `chunk ${chunk}`);
    }
  });
}

test('peaks: full-scale values map to the 8-bit extremes', async () => {
  const peaks = await peaksOf(Int16Array.from([-32768, 32767, 0, -1]), 2, 256, 8);
  assert.deepEqual([...peaks.data], [-128, 0, -1, 127]);
});

const sample: Peaks = { channels: 2, sampleRate: 48000, samplesPerPixel: 256, length: 3, data: Int8Array.from([-10, 10, -5, 6, -128, 127, 0, 0, -1, 1, -2, 2]) };

test('waveform JSON: audiowaveform v2 shape, read back by waveform-data', async () => {
  const json = WaveformJson.parse(JSON.parse(await text(waveformJsonStream(sample))));
  assert.deepEqual(json, { version: 2, channels: 2, sample_rate: 48000, samples_per_pixel: 256, bits: 8, length: 3, data: [...sample.data] });
  const wf = WaveformData.create(json);
  assert.equal(wf.channels, 2);
  assert.equal(wf.length, 3);
  assert.deepEqual(wf.channel(0).min_array(), [-10, -128, -1]);
  assert.deepEqual(wf.channel(1).max_array(), [6, 0, 2]);
});

test('waveform JSON streams large data in chunks that join to valid JSON', async () => {
  const big: Peaks = { channels: 1, sampleRate: 44100, samplesPerPixel: 256, length: 100_000, data: new Int8Array(200_000).map((_, i) => (i % 2 ? 5 : -5)) };
  const chunks = await Readable.from(waveformJsonStream(big)).toArray();
  assert.ok(chunks.length > 3);
  const json = WaveformJson.parse(JSON.parse(chunks.join('')));
  assert.equal(json.data.length, 200_000);
});

test('waveform .dat: 24-byte v2 header, 8-bit flag, read back by waveform-data', () => {
  const dat = waveformDat(sample);
  assert.equal(dat.length, 24 + 12);
  assert.deepEqual([dat.readInt32LE(0), dat.readUInt32LE(4), dat.readInt32LE(8), dat.readInt32LE(12), dat.readUInt32LE(16), dat.readInt32LE(20)], [2, 1, 48000, 256, 3, 2]);
  const wf = WaveformData.create(new Uint8Array(dat).buffer);
  assert.equal(wf.bits, 8);
  assert.equal(wf.sample_rate, 48000);
  assert.deepEqual(wf.channel(0).max_array(), [10, 127, 1]);
  assert.deepEqual(wf.channel(1).min_array(), [-5, 0, -2]);
});

test('peaks as PCM for the picture: one frame of minima, one of maxima, per pixel', () => {
  assert.deepEqual([...new Int8Array(peaksAsPcm(sample))], [-10, -5, 10, 6, -128, 0, 127, 0, -1, -2, 1, 2]);
});

test('peaks as PCM for a picture wider than the audio: each pixel repeated', () => {
  const mono: Peaks = { channels: 1, sampleRate: 8000, samplesPerPixel: 256, length: 2, data: Int8Array.from([-1, 1, -2, 2]) };
  assert.deepEqual([...new Int8Array(peaksAsPcm(mono, 7))], [-1, 1, -1, 1, -2, 2, -2, 2]);
});
