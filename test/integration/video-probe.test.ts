import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { z } from 'zod';
import { BadInputError } from '../../src/contract/errors.js';
import { loadConfig } from '../../src/contract/env.js';
import type { ObjectRef } from '../../src/contract/job.js';
import { ObjectStore } from '../../src/storage/object-store.js';
import { JobMessage } from '../../src/tasks/index.js';
import { VideoAnalysisTask } from '../../src/tasks/video/analysis-task.js';
import { confirmVideo } from '../../src/tasks/video/detect.js';
import { createVideoToolkit, type VideoConfig } from '../../src/tasks/video/ffmpeg/create-toolkit.js';
import type { VideoToolkit } from '../../src/tasks/video/ffmpeg/toolkit.js';
import { VideoInfo } from '../../src/tasks/video/input/video-info.js';
import { VideoProbeTask } from '../../src/tasks/video/probe-task.js';
import { settleAudioTask, startAudioStack, type AudioStack } from '../helpers/audio-context.js';
import { signallingTool, stubbornTool } from '../helpers/audio-fake-tools.js';
import { binaries, ffmpegMake } from '../helpers/audio-media.js';
import { corruptMp4, makeClip } from '../helpers/video-media.js';

const run = promisify(execFile);
/**
 * The npm-bundled ffprobe crashes on MPEG-TS (a known fault of that build): TS is probed only with another.
 * Its real path tells, however it was found (CI puts it on PATH through a symlink).
 */
const bundledProbe = realpathSync(binaries.ffprobe).includes('@ffprobe-installer');

/** The binaries the tests make and check media with (FFMPEG_PATH/FFPROBE_PATH, else PATH, else bundled) are the ones under test. */
const testBinaries = { FFMPEG_PATH: binaries.ffmpeg, FFPROBE_PATH: binaries.ffprobe };
const videoKit = (overrides: Partial<VideoConfig> = {}, killGraceMs?: number): VideoToolkit =>
  createVideoToolkit({ ...loadConfig({}), ...testBinaries, ...overrides }, killGraceMs ? { killGraceMs } : {});
const kit = videoKit();

let stack: AudioStack;
let dir: string;
let jobs = 0;

before(async () => {
  stack = await startAudioStack();
  dir = await mkdtemp(join(tmpdir(), 'video-probe-'));
});
after(async () => {
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
});

async function upload(file: string | Buffer, key: string): Promise<JobMessage> {
  await (typeof file === 'string' ? stack.put(key, file, { fromFile: true }) : stack.put(key, file));
  jobs += 1;
  return JobMessage.parse({ jobId: `video-${process.pid}-${jobs}`, kind: 'video', input: { bucket: stack.emulator.bucket, key }, video: {} });
}

/** Validation then analysis, as the stages run them; returns analysis.json as parsed. */
async function accepted(file: string, key: string, toolkit = kit): Promise<VideoInfo> {
  const job = await upload(file, key);
  const validated = await settleAudioTask(stack, new VideoProbeTask(toolkit), job, 'validation');
  if (validated.error !== undefined) throw validated.error;
  assert.deepEqual(validated.outputs, {}, 'validation writes nothing');
  assert.deepEqual(validated.leftovers, [], 'the decode check leaves nothing in its temp dir');
  const analysed = await settleAudioTask(stack, new VideoAnalysisTask(toolkit), job, 'analysis');
  if (analysed.error !== undefined) throw analysed.error;
  const key2 = analysed.outputs?.['analysis.json'];
  assert.equal(key2, `jobs/${job.jobId}/analysis.json`);
  return VideoInfo.strict().parse(JSON.parse((await stack.bytes(key2)).toString('utf8')));
}

/** The code a validation run fails with (it must fail with a BadInputError), and whether it downloaded the input. */
async function refused(file: string | Buffer, key: string, toolkit = kit): Promise<{ code: string; message: string; downloaded: boolean }> {
  const job = await upload(file, key);
  const result = await settleAudioTask(stack, new VideoProbeTask(toolkit), job, 'validation');
  assert.ok(result.error instanceof BadInputError, `expected a BadInputError, got ${String(result.error)}`);
  assert.deepEqual(result.leftovers, []);
  return { code: result.error.code, message: result.error.message, downloaded: result.downloaded };
}

const Independent = z.object({
  format: z.object({ format_name: z.string(), duration: z.coerce.number(), size: z.coerce.number() }),
  streams: z.array(
    z.looseObject({
      index: z.number(), codec_type: z.string(), codec_name: z.string(), width: z.number().optional(), height: z.number().optional(),
      avg_frame_rate: z.string().optional(), nb_frames: z.coerce.number().optional(), sample_rate: z.coerce.number().optional(), channels: z.number().optional(),
    }),
  ),
});
/** ffprobe run here, without the code under test, to check analysis.json against. */
async function ffprobe(path: string) {
  const { stdout } = await run(binaries.ffprobe, ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path]);
  return Independent.parse(JSON.parse(stdout));
}

describe('accepted videos', () => {
  test('landscape with audio: analysis.json is what ffprobe says of the source', async () => {
    const clip = await makeClip(dir, { name: 'landscape.mp4', seconds: 4, width: 320, height: 180 });
    const info = await accepted(clip, 'uploads/landscape.mp4');
    const truth = await ffprobe(clip);
    const v = truth.streams.find((s) => s.codec_type === 'video');
    const a = truth.streams.find((s) => s.codec_type === 'audio');
    assert.ok(v && a, 'ffprobe sees a video and an audio stream');
    assert.equal(info.container, truth.format.format_name);
    assert.ok(Math.abs(info.durationSeconds - truth.format.duration) < 0.01, `${info.durationSeconds} vs ${truth.format.duration}`);
    assert.equal(info.sizeBytes, truth.format.size);
    assert.deepEqual(
      [info.video.index, info.video.codec, info.video.width, info.video.height, info.video.codedWidth, info.video.codedHeight, info.video.frameRate, info.video.frames, info.video.rotation],
      [v.index, 'h264', 320, 180, 320, 180, 25, v.nb_frames, 0],
    );
    assert.equal(info.video.frames, 100);
    assert.equal(info.video.pixelFormat, 'yuv420p');
    assert.deepEqual(info.video.hdr.isHdr, false);
    assert.deepEqual(info.audio.map((t) => [t.index, t.codec, t.sampleRate, t.channels]), [[a.index, 'aac', 48000, a.channels]]);
  });

  test('portrait: a rotated stream is reported at its displayed size, with the rotation ffmpeg applies', async () => {
    const clip = await makeClip(dir, { name: 'portrait.mp4', seconds: 2, width: 320, height: 180, rotation: 90 });
    const info = await accepted(clip, 'uploads/portrait.mp4');
    assert.deepEqual([info.video.codedWidth, info.video.codedHeight, info.video.width, info.video.height], [320, 180, 180, 320]);
    assert.ok(info.video.width < info.video.height);
    assert.ok(info.video.rotation === 90 || info.video.rotation === 270);
  });

  test('the rotation reported is the way ffmpeg itself turns the picture', async () => {
    // Left half red, right half blue; turned clockwise the red half is on top, counter-clockwise the blue.
    const flat = await ffmpegMake(dir, 'halves.mp4', ['-f', 'lavfi', '-i', 'color=red:size=80x90:duration=1,pad=160:90:0:0:blue', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p']);
    const turned = await ffmpegMake(dir, 'halves-turned.mp4', ['-i', flat, '-c', 'copy', '-metadata:s:v:0', 'rotate=90']);
    const info = await accepted(turned, 'uploads/halves-turned.mp4');
    const { stdout } = await run(binaries.ffmpeg, ['-v', 'error', '-i', turned, '-frames:v', '1', '-vf', 'crop=2:2:44:4', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { encoding: 'buffer' });
    const [r = 0, , b = 0] = stdout;
    const top = r > 200 && b < 50 ? 'red' : b > 200 && r < 50 ? 'blue' : 'unclear';
    assert.equal(top, info.video.rotation === 90 ? 'red' : 'blue', `rotation ${info.video.rotation}, top ${top}`);
    assert.ok(info.video.rotation === 90 || info.video.rotation === 270);
  });

  test('video without audio (Matroska)', async () => {
    const clip = await makeClip(dir, { name: 'silent.mkv', seconds: 2, width: 320, height: 180, audio: false });
    const info = await accepted(clip, 'uploads/silent.mkv');
    assert.equal(info.container, 'matroska,webm');
    assert.deepEqual(info.audio, []);
    assert.equal(info.video.frames, 50, 'Matroska has no frame count: duration × rate');
  });

  test('WebM: VP9 and Opus', async () => {
    const clip = await makeClip(dir, { name: 'clip.webm', seconds: 2, width: 320, height: 180 });
    const info = await accepted(clip, 'uploads/clip.webm');
    assert.equal(info.video.codec, 'vp9');
    assert.deepEqual(info.audio.map((a) => a.codec), ['opus']);
  });

  test('MPEG-TS', { skip: bundledProbe && 'the bundled ffprobe crashes on MPEG-TS' }, async () => {
    const clip = await ffmpegMake(dir, 'clip.ts', ['-i', await makeClip(dir, { name: 'for-ts.mp4', seconds: 2, width: 320, height: 180 }), '-c', 'copy']);
    const info = await accepted(clip, 'uploads/clip.ts');
    assert.equal(info.container, 'mpegts');
    assert.equal(info.video.width, 320);
  });
});

describe('refused at validation', () => {
  test('an MP4 in name only is VIDEO_CORRUPT', async () => {
    assert.equal((await refused(corruptMp4(), 'uploads/corrupt.mp4')).code, 'VIDEO_CORRUPT');
  });

  test('a file ffprobe accepts but whose frames do not decode is VIDEO_CORRUPT', async () => {
    const clip = await makeClip(dir, { name: 'garbled-source.mp4', seconds: 2, width: 320, height: 180, audio: false });
    const bytes = await readFile(clip);
    const mdat = bytes.indexOf('mdat');
    const moov = bytes.indexOf('moov');
    assert.ok(mdat > 0 && moov > mdat, 'ffmpeg writes the index after the frames');
    // The index stays; every frame becomes noise.
    for (let i = mdat + 4, x = 7; i < moov - 4; i++) bytes[i] = x = (x * 1103515245 + 12345) % 251;
    const garbled = join(dir, 'garbled.mp4');
    await writeFile(garbled, bytes);
    const probe = await ffprobe(garbled);
    assert.equal(probe.streams[0]?.codec_type, 'video', 'ffprobe itself accepts the file');
    assert.equal((await refused(garbled, 'uploads/garbled.mp4')).code, 'VIDEO_CORRUPT');
  });

  test('audio only, or audio with cover art, is VIDEO_NO_VIDEO', async () => {
    const m4a = await audioOnlyMp4();
    assert.equal((await refused(m4a, 'uploads/sound.mp4')).code, 'VIDEO_NO_VIDEO');
    assert.equal((await refused(await coverArtM4a(), 'uploads/cover.m4a')).code, 'VIDEO_NO_VIDEO');
  });

  test('a container off the allowlist is VIDEO_UNSUPPORTED_CONTAINER', async () => {
    const avi = await ffmpegMake(dir, 'clip.avi', ['-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=10:duration=1', '-c:v', 'mpeg4']);
    assert.equal((await refused(avi, 'uploads/clip.avi')).code, 'VIDEO_UNSUPPORTED_CONTAINER');
    // A playlist named .mp4: Debian's ffprobe takes it for HLS and refuses that; newer builds take it for broken MP4.
    const playlist = Buffer.from('#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n');
    const { code, message } = await refused(playlist, 'uploads/playlist.mp4');
    assert.ok(code === 'VIDEO_UNSUPPORTED_CONTAINER' || code === 'VIDEO_CORRUPT', code);
    assert.doesNotMatch(message, /passwd|EXTM3U/);
  });

  test('each limit, set low, refuses a clip over it with its own code', async () => {
    const clip = await makeClip(dir, { name: 'four-seconds.mp4', seconds: 4, width: 320, height: 180, audio: false });
    const cases: [Partial<VideoConfig>, string, string][] = [
      [{ VIDEO_MAX_DURATION_SECONDS: 2 }, 'VIDEO_TOO_LONG', 'VIDEO_MAX_DURATION_SECONDS'],
      [{ VIDEO_MAX_PIXELS: 320 * 180 - 1 }, 'VIDEO_TOO_LARGE', 'VIDEO_MAX_PIXELS'],
      [{ VIDEO_MAX_FRAME_RATE: 24 }, 'VIDEO_FRAME_RATE', 'VIDEO_MAX_FRAME_RATE'],
      [{ VIDEO_MAX_FRAMES: 99 }, 'VIDEO_TOO_MANY_FRAMES', 'VIDEO_MAX_FRAMES'],
    ];
    for (const [limit, code, variable] of cases) {
      const result = await refused(clip, `uploads/limit-${code}.mp4`, videoKit(limit));
      assert.equal(result.code, code);
      assert.match(result.message, new RegExp(variable));
    }
    // Just within every limit: accepted.
    await accepted(clip, 'uploads/within.mp4', videoKit({ VIDEO_MAX_DURATION_SECONDS: 5, VIDEO_MAX_PIXELS: 320 * 180, VIDEO_MAX_FRAME_RATE: 25, VIDEO_MAX_FRAMES: 100 }));
  });

  test('an upload over MAX_INPUT_BYTES is refused before it is downloaded', async () => {
    const clip = await makeClip(dir, { name: 'big.mp4', seconds: 1, width: 160, height: 90, audio: false });
    const result = await refused(clip, 'uploads/big.mp4', videoKit({ MAX_INPUT_BYTES: 1000 }));
    assert.equal(result.code, 'INPUT_TOO_LARGE');
    assert.equal(result.downloaded, false);
    assert.match(result.message, /MAX_INPUT_BYTES/);
  });

  test('ffprobe or ffmpeg crashing is VIDEO_TOOL_CRASHED; running past its time VIDEO_TIMEOUT', async () => {
    const clip = await makeClip(dir, { name: 'tools.mp4', seconds: 1, width: 160, height: 90, audio: false });
    const crashingProbe = await signallingTool(dir, 'ffprobe-segv', 'SIGSEGV');
    assert.equal((await refused(clip, 'uploads/crash-probe.mp4', videoKit({ FFPROBE_PATH: crashingProbe }))).code, 'VIDEO_TOOL_CRASHED');
    const crashingDecoder = await signallingTool(dir, 'ffmpeg-abrt', 'SIGABRT', 'null');
    assert.equal((await refused(clip, 'uploads/crash-decode.mp4', videoKit({ FFMPEG_PATH: crashingDecoder }))).code, 'VIDEO_TOOL_CRASHED');
    const stuck = await stubbornTool(dir, 'ffprobe-stuck');
    const started = Date.now();
    assert.equal((await refused(clip, 'uploads/stuck.mp4', videoKit({ FFPROBE_PATH: stuck.path, VIDEO_PROBE_TIMEOUT_SECONDS: 1 }, 200))).code, 'VIDEO_TIMEOUT');
    assert.ok(Date.now() - started < 5000);
  });
});

async function audioOnlyMp4(): Promise<string> {
  return ffmpegMake(dir, 'sound.mp4', ['-f', 'lavfi', '-i', 'sine=duration=2', '-c:a', 'aac']);
}
async function coverArtM4a(): Promise<string> {
  const sound = await ffmpegMake(dir, 'plain.m4a', ['-f', 'lavfi', '-i', 'sine=duration=2', '-c:a', 'aac']);
  return ffmpegMake(dir, 'cover.m4a', ['-i', sound, '-f', 'lavfi', '-i', 'color=red:size=64x64:duration=1', '-map', '0', '-map', '1', '-c:a', 'copy', '-c:v', 'mjpeg', '-frames:v', '1', '-disposition:v:0', 'attached_pic']);
}

/** The store, counting the bytes each read hands on. */
class CountingStore extends ObjectStore {
  read = 0;
  override async getStream(ref: ObjectRef, signal?: AbortSignal, range?: string): Promise<Readable> {
    const body = await super.getStream(ref, signal, range);
    const counter = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        this.read += chunk.length;
        done(null, chunk);
      },
    });
    counter.on('close', () => body.destroy());
    return body.pipe(counter);
  }
}

describe('confirmVideo (ingestion)', () => {
  const confirm = async (file: string | Buffer, key: string, toolkit = kit, signal = new AbortController().signal) => {
    const job = await upload(file, key);
    const store = new CountingStore(stack.store.client, stack.store.bucket);
    return { verdict: await confirmVideo(job.input, store, signal, toolkit), read: store.read };
  };

  test('video in MP4 (index first or last), Matroska and WebM', async () => {
    const late = await makeClip(dir, { name: 'confirm-late.mp4', seconds: 2, width: 320, height: 180 });
    assert.equal((await confirm(late, 'uploads/confirm-late.mp4')).verdict, 'video');
    assert.equal((await confirm(await makeClip(dir, { name: 'confirm.mkv', seconds: 1, width: 160, height: 90, audio: false }), 'uploads/confirm.mkv')).verdict, 'video');
    assert.equal((await confirm(await makeClip(dir, { name: 'confirm.webm', seconds: 1, width: 160, height: 90 }), 'uploads/confirm.webm')).verdict, 'video');
  });

  test('stops reading a faststart MP4 once ffprobe has its answer', async (t) => {
    const source = await makeClip(dir, { name: 'long-source.mp4', seconds: 8, width: 640, height: 360 });
    const fast = await ffmpegMake(dir, 'faststart.mp4', ['-i', source, '-c', 'copy', '-movflags', '+faststart']);
    const size = (await readFile(fast)).length;
    const { verdict, read } = await confirm(fast, 'uploads/faststart.mp4');
    assert.equal(verdict, 'video');
    t.diagnostic(`read ${read} of ${size} bytes`);
    assert.ok(read < size / 2, `read ${read} of ${size} bytes`);
  });

  test('MPEG-TS', { skip: bundledProbe && 'the bundled ffprobe crashes on MPEG-TS' }, async () => {
    const ts = await ffmpegMake(dir, 'confirm.ts', ['-i', await makeClip(dir, { name: 'confirm-ts.mp4', seconds: 1, width: 160, height: 90 }), '-c', 'copy']);
    assert.equal((await confirm(ts, 'uploads/confirm.ts')).verdict, 'video');
  });

  test('no video in sound in MP4, cover art or MP3 with a picture; noise is unreadable', async () => {
    assert.equal((await confirm(await audioOnlyMp4(), 'uploads/confirm-sound.mp4')).verdict, 'no-video');
    assert.equal((await confirm(await coverArtM4a(), 'uploads/confirm-cover.m4a')).verdict, 'no-video');
    const mp3 = await ffmpegMake(dir, 'cover.mp3', ['-f', 'lavfi', '-i', 'sine=duration=2', '-f', 'lavfi', '-i', 'color=red:size=64x64:duration=1', '-map', '0', '-map', '1', '-c:a', 'libmp3lame', '-c:v', 'mjpeg', '-frames:v', '1', '-disposition:v:0', 'attached_pic']);
    // MP3 is no container video reads (detectVideo never asks about one): ffprobe refuses it under video's allowlist.
    assert.equal((await confirm(mp3, 'uploads/confirm-cover.mp3')).verdict, 'unreadable');
    assert.equal((await confirm(corruptMp4(), 'uploads/confirm-noise.mp4')).verdict, 'unreadable');
  });

  test('unreadable when ffprobe crashes or hangs; an abort is thrown, not a verdict', async () => {
    const clip = await makeClip(dir, { name: 'confirm-tools.mp4', seconds: 1, width: 160, height: 90, audio: false });
    assert.equal((await confirm(clip, 'uploads/confirm-crash.mp4', videoKit({ FFPROBE_PATH: await signallingTool(dir, 'ffprobe-segv2', 'SIGSEGV') }))).verdict, 'unreadable');
    const stuck = await stubbornTool(dir, 'ffprobe-stuck2');
    const started = Date.now();
    assert.equal((await confirm(clip, 'uploads/confirm-stuck.mp4', videoKit({ FFPROBE_PATH: stuck.path, VIDEO_PROBE_TIMEOUT_SECONDS: 1 }, 200))).verdict, 'unreadable');
    assert.ok(Date.now() - started < 5000);
    const controller = new AbortController();
    const stuckKit = videoKit({ FFPROBE_PATH: stuck.path, VIDEO_PROBE_TIMEOUT_SECONDS: 30 }, 200);
    const job = await upload(clip, 'uploads/confirm-abort.mp4');
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(confirmVideo(job.input, stack.store, controller.signal, stuckKit), (err: unknown) => err instanceof Error && /abort/i.test(err.name + err.message));
  });
});
