import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWavHeader } from '../../src/tasks/audio/input/wav-header.js';

/** A RIFF/WAVE header: `chunks` between the WAVE id and the data chunk, `dataBytes` declared, `present` of them in the file. */
function wav(opts: { channels?: number; rate?: number; extensible?: boolean; dataBytes?: number; present?: number; fmtAfterData?: boolean; extra?: Buffer } = {}): Buffer {
  const { channels = 2, rate = 44100, extensible = false, dataBytes = 400, present = dataBytes } = opts;
  const fmt = Buffer.alloc(extensible ? 40 : 16);
  fmt.writeUInt16LE(extensible ? 0xfffe : 1, 0);
  fmt.writeUInt16LE(channels, 2);
  fmt.writeUInt32LE(rate, 4);
  fmt.writeUInt32LE(rate * channels * 2, 8);
  fmt.writeUInt16LE(channels * 2, 12);
  fmt.writeUInt16LE(16, 14);
  const chunk = (id: string, body: Buffer, declared = body.length) => {
    const head = Buffer.alloc(8);
    head.write(id, 0, 'latin1');
    head.writeUInt32LE(declared, 4);
    return Buffer.concat([head, body]);
  };
  const fmtChunk = chunk('fmt ', fmt);
  const data = chunk('data', Buffer.alloc(present), dataBytes);
  const body = Buffer.concat([Buffer.from('WAVE'), ...(opts.fmtAfterData ? [data, fmtChunk] : [opts.extra ?? Buffer.alloc(0), fmtChunk, data])]);
  return Buffer.concat([Buffer.from('RIFF'), Buffer.from([0, 0, 0, 0]), body]);
}

const parse = (b: Buffer) => parseWavHeader(b, b.length);

test('sample rate and channels from the fmt chunk (plain and extensible), before anything decodes', () => {
  assert.deepEqual(parse(wav({ channels: 255, rate: 1 })), { format: { channels: 255, sampleRate: 1 }, truncated: false });
  assert.deepEqual(parse(wav({ channels: 6, rate: 96000, extensible: true })), { format: { channels: 6, sampleRate: 96000 }, truncated: false });
  // Chunks before fmt (LIST, bext…) are walked over.
  const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc'), Buffer.alloc(1)]);
  assert.deepEqual(parse(wav({ rate: 22050, extra: list })), { format: { channels: 2, sampleRate: 22050 }, truncated: false });
});

test('a data chunk longer than the file is truncation; streaming writers (0, 0xFFFFFFFF) are not judged', () => {
  assert.equal(parse(wav({ dataBytes: 400, present: 200 }))?.truncated, true);
  assert.equal(parse(wav({ dataBytes: 0, present: 200 }))?.truncated, false);
  assert.equal(parse(wav({ dataBytes: 0xffffffff, present: 200 }))?.truncated, false);
});

test('not a WAV, or no fmt before the data: nothing to judge from the header', () => {
  assert.equal(parse(Buffer.from('ID3\x03\x00 not a wav')), undefined);
  assert.equal(parse(Buffer.alloc(0)), undefined);
  assert.deepEqual(parse(wav({ fmtAfterData: true })), { truncated: false });
  // A header cut inside the fmt chunk.
  assert.deepEqual(parse(wav().subarray(0, 26)), { truncated: false });
});
