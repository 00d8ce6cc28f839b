import assert from 'node:assert/strict';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { detectVideo } from '../../src/tasks/video/detect.js';
import { ffmpegMake } from '../helpers/audio-media.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'video-detect-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** The first 4096 bytes (the host's sniff size) of a file ffmpeg makes. */
async function headOf(name: string, args: string[]): Promise<Buffer> {
  const file = await open(await ffmpegMake(dir, name, args), 'r');
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(4096), 0, 4096, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

const picture = ['-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=10:duration=0.5'];
const tone = ['-f', 'lavfi', '-i', 'sine=duration=0.5'];
const h264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];

test('the containers that may hold video ask to be confirmed', async () => {
  assert.equal(detectVideo(await headOf('v.mp4', [...picture, ...h264])), 'confirm');
  assert.equal(detectVideo(await headOf('v.mov', [...picture, ...h264])), 'confirm');
  assert.equal(detectVideo(await headOf('v.mkv', [...picture, ...h264])), 'confirm');
  assert.equal(detectVideo(await headOf('v.webm', [...picture, '-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8'])), 'confirm');
  assert.equal(detectVideo(await headOf('v.ts', [...picture, ...h264])), 'confirm');
  // An MP4 of sound only has a general brand: only the content can tell (confirmVideo says no).
  assert.equal(detectVideo(await headOf('a.mp4', [...tone, '-c:a', 'aac'])), 'confirm');
});

test('audio-only MP4 brands, audio containers and text are not video', async () => {
  const m4a = await headOf('a.m4a', [...tone, '-c:a', 'aac']);
  assert.equal(m4a.toString('latin1', 4, 12), 'ftypM4A ');
  assert.equal(detectVideo(m4a), undefined);
  for (const brand of ['M4B ', 'M4P ', 'F4A ']) {
    assert.equal(detectVideo(Buffer.concat([m4a.subarray(0, 8), Buffer.from(brand), m4a.subarray(12)])), undefined, brand);
  }
  assert.equal(detectVideo(await headOf('a.wav', [...tone])), undefined);
  assert.equal(detectVideo(await headOf('a.mp3', [...tone])), undefined);
  assert.equal(detectVideo(Buffer.from('name,age\nAda,36\n')), undefined);
  assert.equal(detectVideo(Buffer.from('#EXTM3U\n#EXT-X-VERSION:3\n')), undefined);
  assert.equal(detectVideo(Buffer.alloc(0)), undefined);
});

test('one sync byte is not a transport stream: it takes three packets in a row', () => {
  const packets = Buffer.alloc(188 * 3, 0xff);
  for (const at of [0, 188, 376]) packets[at] = 0x47;
  assert.equal(detectVideo(packets), 'confirm');
  assert.equal(detectVideo(Buffer.from('G is for giraffe, a text that starts with 0x47')), undefined);
  const broken = Buffer.from(packets);
  broken[188] = 0;
  assert.equal(detectVideo(broken), undefined);
  assert.equal(detectVideo(packets.subarray(0, 376)), undefined, 'too short to see three packets');
});
