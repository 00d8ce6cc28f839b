import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { parseWavHeader, readWavHeader, type WavHeader } from '../../src/tasks/audio/input/wav-header.js';
import { bounded, fuzzParams } from '../helpers/fuzz.js';

// Property: whatever an upload's first bytes are, the header reader answers (a header, or "not a WAV")
// without throwing or looping, and on a well-formed RIFF/WAVE file it reads what the file says.

const headBytes = 64 * 1024;
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const chunk = (id: string, length: number, body: Buffer) => Buffer.concat([Buffer.from(id, 'latin1'), u32(length), body]);
const fmtBody = (channels: number, sampleRate: number) => {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(1, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(sampleRate >>> 0, 4);
  return b;
};

/** Chunk lengths that reach the corners: zero, odd, the streaming markers, past the file, past 32 bits of offset. */
const declaredLength = fc.oneof(
  fc.integer({ min: 0, max: 64 }),
  fc.constantFrom(0, 1, 7, 8, 15, 16, 0xfffffffe, 0xffffffff, 0x7fffffff, headBytes - 20, headBytes + 1),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const chunkId = fc.oneof(fc.constantFrom('fmt ', 'data', 'LIST', 'JUNK', 'fact', 'FMT ', 'dat'), fc.string({ unit: 'binary-ascii', minLength: 4, maxLength: 4 }));
/** A chunk whose body may be shorter or longer than it declares. */
const hostileChunk = fc
  .tuple(chunkId, declaredLength, fc.uint8Array({ maxLength: 48 }), fc.boolean())
  .map(([id, length, body, honest]) => chunk(id.padEnd(4).slice(0, 4), length, honest && length <= 4096 ? Buffer.alloc(length + (length % 2)) : Buffer.from(body)));
const riffStart = fc.oneof(
  { weight: 5, arbitrary: fc.constant(Buffer.from('RIFF\0\0\0\0WAVE', 'latin1')) },
  { weight: 1, arbitrary: fc.constantFrom('RIFX', 'RF64', 'RIFF').map((id) => Buffer.from(`${id}\xff\xff\xff\xffWAVE`, 'latin1')) },
);
/** Bytes that start like a WAV and then go wrong in every way, or are not a WAV at all. */
const hostileFile = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(riffStart, fc.array(hostileChunk, { maxLength: 12 }), fc.nat()).map(([start, chunks, cut]) => { const all = Buffer.concat([start, ...chunks]); return all.subarray(0, cut % (all.length + 1)); }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
  // Past the 64 KiB the reader looks at: chunks that end exactly at, or straddle, its edge.
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: headBytes - 40, max: headBytes + 40 }), fc.array(hostileChunk, { maxLength: 3 })).map(([pad, chunks]) => Buffer.concat([Buffer.from('RIFF\0\0\0\0WAVE', 'latin1'), chunk('JUNK', pad, Buffer.alloc(pad + (pad % 2))), ...chunks])) },
);

function assertHeader(header: WavHeader | undefined): void {
  if (header === undefined) return;
  assert.equal(typeof header.truncated, 'boolean');
  if (header.format) {
    assert.ok(Number.isInteger(header.format.channels) && header.format.channels >= 0 && header.format.channels <= 0xffff);
    assert.ok(Number.isInteger(header.format.sampleRate) && header.format.sampleRate >= 0 && header.format.sampleRate <= 0xffffffff);
  }
}

const dir = await mkdtemp(join(tmpdir(), 'fuzz-wav-'));
after(() => rm(dir, { recursive: true, force: true }));

test('fuzz: any first bytes and file size give a header or "not a WAV", never a throw or a loop', async () => {
  await fc.assert(
    fc.asyncProperty(
      hostileFile,
      fc.oneof(fc.constant(0), fc.nat(), fc.integer({ min: 0, max: 2 ** 40 })),
      bounded('wav header bytes', (file, extra) => {
        // The reader sees at most 64 KiB of a file that may be much longer.
        assertHeader(parseWavHeader(file.subarray(0, headBytes), file.length + (file.length >= headBytes ? extra : 0)));
      }),
    ),
    fuzzParams(1_000, 3_000),
  );
});

test('fuzz: read from a file, the header is the one its first 64 KiB and size give', async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(
      hostileFile,
      bounded('wav header file', async (file) => {
        const path = join(dir, `f${(n += 1)}.wav`);
        await writeFile(path, file);
        const header = await readWavHeader(path);
        assertHeader(header);
        assert.deepEqual(header, parseWavHeader(file.subarray(0, headBytes), file.length));
        await rm(path);
      }),
    ),
    fuzzParams(200, 3_000),
  );
});

test('fuzz: a well-formed WAV gives its channels and sample rate, and is truncated exactly when its data is cut', async () => {
  const otherChunk = fc.tuple(fc.constantFrom('LIST', 'JUNK', 'fact', 'bext'), fc.integer({ min: 0, max: 300 })).map(([id, length]) => chunk(id, length, Buffer.alloc(length + (length % 2))));
  await fc.assert(
    fc.asyncProperty(
      fc.array(otherChunk, { maxLength: 3 }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.constantFrom(0, 0xffffffff)),
      fc.integer({ min: 0, max: 2000 }),
      bounded('well-formed wav', (before, channels, sampleRate, declared, actual) => {
        const file = Buffer.concat([Buffer.from('RIFF\0\0\0\0WAVE', 'latin1'), ...before, chunk('fmt ', 16, fmtBody(channels, sampleRate)), chunk('data', declared, Buffer.alloc(actual))]);
        const header = parseWavHeader(file, file.length);
        assert.deepEqual(header?.format, { channels, sampleRate });
        assert.equal(header?.truncated, declared !== 0 && declared !== 0xffffffff && actual < declared);
      }),
    ),
    fuzzParams(500, 2_000),
  );
});
