import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { z } from 'zod';
import { AbortedError } from '../../src/contract/errors.js';
import { loadConfig } from '../../src/contract/env.js';
import type { FfmpegRun, FfmpegRunner } from '../../src/media/ffmpeg.js';
import type { TaskContext } from '../../src/pipeline/task.js';
import { JobMessage } from '../../src/tasks/index.js';
import { createVideoToolkit } from '../../src/tasks/video/ffmpeg/create-toolkit.js';
import type { VideoToolkit } from '../../src/tasks/video/ffmpeg/toolkit.js';
import { VideoStillsTask } from '../../src/tasks/video/stills-task.js';
import { binaries, ffmpegMake } from '../helpers/audio-media.js';
import { startStack, type TestStack } from '../helpers/pipeline.js';
import { makeClip } from '../helpers/video-media.js';

const run = promisify(execFile);

// The binaries the test run was given (FFMPEG_PATH/FFPROBE_PATH for the bundled build), as the worker would take them.
const kit = createVideoToolkit({ ...loadConfig({}), FFMPEG_PATH: binaries.ffmpeg, FFPROBE_PATH: binaries.ffprobe });

let stack: TestStack;
let dir: string;
let jobs = 0;

before(async () => {
  stack = await startStack();
  dir = await mkdtemp(join(tmpdir(), 'video-stills-'));
});
after(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

interface StillsRun {
  outputs?: Record<string, string>;
  error?: unknown;
  leftovers: string[];
  jobId: string;
  taskDir: string;
}

/**
 * The task as the analysis stage runs it: the clip uploaded to fauxqs, a private temp dir (named with
 * the characters a filter graph treats specially: every path in a graph must be escaped), the input
 * downloaded on request, an abort signal; never rejects.
 */
async function stills(clip: string, opts: { kit?: VideoToolkit; signal?: AbortSignal } = {}): Promise<StillsRun> {
  jobs += 1;
  const jobId = `stills-${process.pid}-${jobs}`;
  const key = `uploads/${jobId}/${basename(clip)}`;
  await stack.store.upload(key, await readFile(clip), 'video/mp4');
  const job = JobMessage.parse({ jobId, kind: 'video', input: { bucket: stack.emulator.bucket, key }, video: {} });
  const taskDir = join(dir, `task ${jobs} [a,b];c:d'e`);
  await mkdir(taskDir);
  const inputPath = join(dir, `input-${jobs}${extname(clip)}`);
  let input: Promise<string> | undefined;
  const ctx: TaskContext = {
    job,
    stage: 'analysis',
    store: stack.store,
    logger: pino({ level: 'silent' }),
    signal: opts.signal ?? new AbortController().signal,
    tmpDir: taskDir,
    inputFile: () => {
      input ??= stack.store.downloadToFile(job.input, inputPath).then(() => inputPath);
      return input;
    },
    reportProgress: () => undefined,
  };
  try {
    const { outputs } = await new VideoStillsTask(opts.kit ?? kit).run(ctx);
    return { outputs, leftovers: await readdir(taskDir), jobId, taskDir };
  } catch (error) {
    return { error, leftovers: await readdir(taskDir), jobId, taskDir };
  }
}

/** A successful run's three outputs, downloaded, with their content types. */
async function outputsOf(result: StillsRun) {
  assert.equal(result.error, undefined, String(result.error));
  assert.deepEqual(result.leftovers, [], 'temp files removed');
  const prefix = `jobs/${result.jobId}/`;
  assert.deepEqual(result.outputs, {
    'video/poster.jpg': `${prefix}video/poster.jpg`,
    'video/thumbnails.jpg': `${prefix}video/thumbnails.jpg`,
    'video/thumbnails.vtt': `${prefix}video/thumbnails.vtt`,
  });
  const poster = await object(`${prefix}video/poster.jpg`);
  const sheet = await object(`${prefix}video/thumbnails.jpg`);
  const vtt = await object(`${prefix}video/thumbnails.vtt`);
  assert.equal(poster.contentType, 'image/jpeg');
  assert.equal(sheet.contentType, 'image/jpeg');
  assert.equal(vtt.contentType, 'text/vtt');
  const posterFile = join(dir, `${result.jobId}-poster.jpg`);
  const sheetFile = join(dir, `${result.jobId}-sheet.jpg`);
  await writeFile(posterFile, poster.body);
  await writeFile(sheetFile, sheet.body);
  return { posterFile, sheetFile, cues: parseVtt(vtt.body.toString('utf8')) };
}

async function object(key: string): Promise<{ body: Buffer; contentType?: string }> {
  const res = await stack.clients.s3.send(new GetObjectCommand({ Bucket: stack.emulator.bucket, Key: key }));
  return { body: Buffer.from((await res.Body?.transformToByteArray()) ?? []), contentType: res.ContentType };
}

const Cue = z.object({ start: z.number(), end: z.number(), x: z.number(), y: z.number(), w: z.number(), h: z.number() });
type Cue = z.infer<typeof Cue>;

/** A strict reader of the thumbnail track: the header, then blocks of `start --> end` and a sheet fragment. */
function parseVtt(text: string): Cue[] {
  const [header, ...blocks] = text.trimEnd().split('\n\n');
  assert.equal(header, 'WEBVTT');
  const seconds = (t: string) => {
    const m = /^(\d{2}):(\d{2}):(\d{2})\.(\d{3})$/.exec(t);
    assert.ok(m, `timestamp ${t}`);
    return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000;
  };
  return blocks.map((block) => {
    const m = /^(\S+) --> (\S+)\nthumbnails\.jpg#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(block);
    assert.ok(m, `cue block ${JSON.stringify(block)}`);
    return Cue.parse({ start: seconds(m[1] as string), end: seconds(m[2] as string), x: Number(m[3]), y: Number(m[4]), w: Number(m[5]), h: Number(m[6]) });
  });
}

const Probe = z.object({
  format: z.looseObject({ duration: z.coerce.number().optional() }),
  streams: z.array(z.looseObject({ codec_name: z.string(), width: z.number().optional(), height: z.number().optional() })),
});

async function probe(path: string) {
  const { stdout } = await run(binaries.ffprobe, ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path]);
  return Probe.parse(JSON.parse(stdout));
}

async function imageSize(path: string): Promise<{ width: number; height: number; codec: string }> {
  const stream = (await probe(path)).streams[0];
  assert.ok(stream?.width && stream.height);
  return { width: stream.width, height: stream.height, codec: stream.codec_name };
}

/** Luma of (a part of) a JPEG, decoded by ffmpeg to 8-bit grey: mean and standard deviation over the pixels. */
async function lumaOf(path: string, crop?: Cue): Promise<{ mean: number; spread: number }> {
  const vf = crop ? ['-vf', `crop=${crop.w}:${crop.h}:${crop.x}:${crop.y}`] : [];
  const { stdout } = await run(binaries.ffmpeg, ['-nostdin', '-loglevel', 'error', '-i', path, ...vf, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  const pixels = Uint8Array.from(stdout);
  const mean = pixels.reduce((a, b) => a + b, 0) / pixels.length;
  const spread = Math.sqrt(pixels.reduce((a, b) => a + (b - mean) ** 2, 0) / pixels.length);
  return { mean, spread };
}

/** The track covers the video (0 to its duration, within a frame) without gaps, each cue inside the sheet at its own place. */
async function assertTrackFitsSheet(cues: Cue[], sheetFile: string, duration: number, frameRate: number) {
  const sheet = await imageSize(sheetFile);
  assert.equal(sheet.codec, 'mjpeg');
  assert.ok(cues.length > 0);
  assert.equal(cues[0]?.start, 0);
  assert.ok(Math.abs((cues.at(-1)?.end ?? 0) - duration) <= 1 / frameRate, `last cue ends at ${cues.at(-1)?.end}, the video at ${duration}`);
  cues.forEach((cue, i) => {
    assert.ok(cue.end > cue.start, `cue ${i} has a length`);
    if (i > 0) assert.equal(cue.start, cues[i - 1]?.end, `cue ${i} starts where cue ${i - 1} ends`);
    assert.ok(cue.x + cue.w <= sheet.width && cue.y + cue.h <= sheet.height, `cue ${i} (${cue.x},${cue.y} ${cue.w}x${cue.h}) inside the ${sheet.width}x${sheet.height} sheet`);
  });
  // Tiles = cues: the sheet is a grid of the cues' tiles with no row to spare, each cue its own tile.
  const { w, h } = cues[0] as Cue;
  const columns = sheet.width / w;
  assert.ok(Number.isInteger(columns) && Number.isInteger(sheet.height / h), 'the sheet is a whole grid of tiles');
  assert.equal(Math.ceil(cues.length / columns), sheet.height / h, 'as many rows as the cues need');
  assert.equal(new Set(cues.map((c) => `${c.x},${c.y}`)).size, cues.length, 'one tile per cue');
  cues.forEach((c, i) => assert.deepEqual([c.x, c.y, c.w, c.h], [(i % columns) * w, Math.floor(i / columns) * h, w, h], `cue ${i} in reading order`));
  return { sheet, tile: { width: w, height: h } };
}

test('a clip that opens on 4 s of black: the poster is a picture from after it; the track covers the clip', async () => {
  const clip = await makeClip(dir, { name: 'black-open.mp4', blackSeconds: 4, seconds: 8, audio: true });
  const { posterFile, sheetFile, cues } = await outputsOf(await stills(clip));

  const poster = await imageSize(posterFile);
  assert.deepEqual([poster.codec, poster.width, poster.height], ['mjpeg', 640, 360]);
  const luma = await lumaOf(posterFile);
  assert.ok(luma.mean > 60, `poster mean luma ${luma.mean.toFixed(1)}: not black`);
  assert.ok(luma.spread > 30, `poster luma spread ${luma.spread.toFixed(1)}: not flat`);

  const duration = (await probe(clip)).format.duration ?? 0;
  const { sheet, tile } = await assertTrackFitsSheet(cues, sheetFile, duration, 25);
  assert.equal(cues.length, 4, 'a tile every 2 s');
  assert.deepEqual(tile, { width: 160, height: 90 });
  assert.deepEqual([sheet.width, sheet.height], [640, 90]);
});

test('a clip that never opens on black: every tile is a picture, the last one too (no padding)', async () => {
  const clip = await makeClip(dir, { name: 'plain.mkv', seconds: 7, width: 320, height: 240, audio: false });
  const { sheetFile, cues } = await outputsOf(await stills(clip));
  const duration = (await probe(clip)).format.duration ?? 0;
  const { tile } = await assertTrackFitsSheet(cues, sheetFile, duration, 25);
  assert.equal(cues.length, 4, '7 s: three whole intervals and a short one');
  assert.deepEqual(tile, { width: 160, height: 120 });
  for (const cue of cues) {
    const luma = await lumaOf(sheetFile, cue);
    assert.ok(luma.mean > 40 && luma.spread > 20, `tile at ${cue.start} s is a picture (mean ${luma.mean.toFixed(1)}, spread ${luma.spread.toFixed(1)})`);
  }
});

test('a portrait phone clip (display rotation 90°): a portrait poster and portrait tiles', async () => {
  const clip = await makeClip(dir, { name: 'portrait.mp4', seconds: 4, width: 640, height: 360, rotation: 90 });
  const { posterFile, sheetFile, cues } = await outputsOf(await stills(clip));
  const poster = await imageSize(posterFile);
  assert.deepEqual([poster.width, poster.height], [360, 640], 'upright, as displayed');
  const duration = (await probe(clip)).format.duration ?? 0;
  const { sheet, tile } = await assertTrackFitsSheet(cues, sheetFile, duration, 25);
  assert.deepEqual(tile, { width: 90, height: 160 });
  assert.ok(tile.height > tile.width);
  assert.deepEqual([sheet.width, sheet.height], [180, 160]);
});

test('a 1 s clip still gets a poster and one cue over the whole second', async () => {
  const clip = await makeClip(dir, { name: 'short.webm', seconds: 1, width: 320, height: 180 });
  const { posterFile, sheetFile, cues } = await outputsOf(await stills(clip));
  assert.deepEqual(await imageSize(posterFile).then((s) => [s.width, s.height]), [320, 180]);
  const duration = (await probe(clip)).format.duration ?? 0;
  await assertTrackFitsSheet(cues, sheetFile, duration, 25);
  assert.equal(cues.length, 1);
  assert.deepEqual([cues[0]?.x, cues[0]?.y, cues[0]?.w, cues[0]?.h], [0, 0, 160, 90]);
});

test('an all-black clip: the poster is still written (the brightest candidate, black)', async () => {
  const clip = await makeClip(dir, { name: 'all-black.mp4', blackSeconds: 3, seconds: 3, width: 320, height: 180, audio: false });
  const { posterFile, sheetFile, cues } = await outputsOf(await stills(clip));
  const luma = await lumaOf(posterFile);
  assert.ok(luma.mean < 20 && luma.spread < 5, `black poster (mean ${luma.mean.toFixed(1)})`);
  await assertTrackFitsSheet(cues, sheetFile, (await probe(clip)).format.duration ?? 0, 25);
});

test('a video track that ends long before the audio: candidates past its end have no frame, the track still covers the whole file', async () => {
  // 1 s of black picture in an 8 s file: the poster tries 0.8 s (black), then 2, 4, 6 s (no picture), then the first frame.
  const clip = await ffmpegMake(dir, 'short-picture.mp4', [
    '-f', 'lavfi', '-i', 'color=c=black:s=320x180:r=25:d=1',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=8:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
  ]);
  const { posterFile, sheetFile, cues } = await outputsOf(await stills(clip));
  assert.deepEqual(await imageSize(posterFile).then((s) => [s.width, s.height]), [320, 180]);
  const duration = (await probe(clip)).format.duration ?? 0;
  assert.ok(duration > 7.9);
  await assertTrackFitsSheet(cues, sheetFile, duration, 25);
  assert.equal(cues.length, 4, 'every 2 s of the file, past the picture\'s end too');
});

/** The runner the task is given, aborting the job a moment after a chosen run has started its ffmpeg. */
class AbortDuringRun implements FfmpegRunner {
  readonly runs: { what: string; outcome?: unknown; settledAfterAbortMs?: number }[] = [];
  private abortedAt = 0;
  constructor(
    private readonly inner: FfmpegRunner,
    private readonly controller: AbortController,
    private readonly during: string,
  ) {}
  run(spec: FfmpegRun): Promise<void> {
    const entry: (typeof this.runs)[number] = { what: spec.what };
    this.runs.push(entry);
    // The run to abort reads its input at the clip's own pace (-re), so it is still running 20 ms in
    // however fast this machine's ffmpeg is (a fast one finished the keyframes first, and the abort
    // landed in the next run).
    const target = spec.what === this.during;
    const done = this.inner.run(target ? { ...spec, inputArgs: ['-re', ...spec.inputArgs] } : spec);
    if (target && !this.controller.signal.aborted) {
      setTimeout(() => {
        this.abortedAt = Date.now();
        this.controller.abort(new AbortedError('test abort'));
      }, 20);
    }
    return done.then(
      () => void (entry.outcome = 'ok'),
      (err: unknown) => {
        entry.outcome = err;
        entry.settledAfterAbortMs = Date.now() - this.abortedAt;
        throw err;
      },
    );
  }
}

test('an abort during the thumbnail run stops ffmpeg: the task rejects as aborted, nothing is left running or written', async () => {
  const clip = await makeClip(dir, { name: 'abort.mp4', seconds: 8, width: 640, height: 360 });
  const controller = new AbortController();
  const runner = new AbortDuringRun(kit.ffmpeg, controller, 'thumbnail keyframes');
  const result = await stills(clip, { kit: { ...kit, ffmpeg: runner }, signal: controller.signal });
  assert.ok(result.error instanceof AbortedError, `aborted, not ${String(result.error)}`);
  assert.deepEqual(result.leftovers, [], 'temp files removed');
  const last = runner.runs.at(-1);
  assert.equal(last?.what, 'thumbnail keyframes', 'no run after the abort');
  assert.ok(last?.outcome instanceof AbortedError);
  assert.ok((last.settledAfterAbortMs ?? Infinity) < 2000, `settled ${last.settledAfterAbortMs} ms after the abort (the runner waits for the exit)`);
  const { stdout } = await run('ps', ['-eo', 'args']);
  assert.ok(!stdout.includes(result.taskDir), 'no ffmpeg left running over the task dir');
  const listed = await stack.clients.s3.send(new ListObjectsV2Command({ Bucket: stack.emulator.bucket, Prefix: `jobs/${result.jobId}/` }));
  assert.deepEqual(listed.Contents ?? [], [], 'nothing uploaded');
});
