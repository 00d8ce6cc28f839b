import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { z } from 'zod';
import { AbortedError } from '../../src/contract/errors.js';
import { loadConfig } from '../../src/contract/env.js';
import { BadInputError } from '../../src/contract/errors.js';
import type { TaskContext } from '../../src/pipeline/task.js';
import { JobMessage } from '../../src/tasks/index.js';
import { createVideoToolkit } from '../../src/tasks/video/ffmpeg/create-toolkit.js';
import type { VideoToolkit } from '../../src/tasks/video/ffmpeg/toolkit.js';
import { VideoLadderTask } from '../../src/tasks/video/ladder-task.js';
import type { RungName } from '../../src/tasks/video/options.js';
import { binaries } from '../helpers/audio-media.js';
import { startStack, type TestStack } from '../helpers/pipeline.js';
import { makeClip } from '../helpers/video-media.js';

const run = promisify(execFile);

/** The toolkit as the worker builds it from the environment's defaults, with the binaries these tests run with. */
const kit: VideoToolkit = createVideoToolkit({ ...loadConfig({}), FFMPEG_PATH: binaries.ffmpeg, FFPROBE_PATH: binaries.ffprobe });

const Probe = z.object({
  format: z.looseObject({ format_name: z.string(), duration: z.coerce.number(), size: z.coerce.number() }),
  streams: z.array(
    z.looseObject({
      index: z.number(),
      codec_type: z.string(),
      codec_name: z.string(),
      width: z.number().optional(),
      height: z.number().optional(),
      r_frame_rate: z.string().optional(),
      sample_rate: z.coerce.number().optional(),
      channels: z.number().optional(),
      tags: z.record(z.string(), z.string()).optional(),
      side_data_list: z.array(z.looseObject({ side_data_type: z.string().optional(), rotation: z.number().optional() })).optional(),
    }),
  ),
});

async function probe(path: string): Promise<z.infer<typeof Probe>> {
  const { stdout } = await run(binaries.ffprobe, ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path]);
  return Probe.parse(JSON.parse(stdout));
}

/** What ffprobe says of a test clip (independently of the task's own probe): length, displayed size, rotation. */
async function clipFacts(path: string): Promise<{ durationSeconds: number; width: number; height: number; rotation: number }> {
  const report = await probe(path);
  const video = report.streams.find((s) => s.codec_type === 'video');
  assert.ok(video?.width && video.height);
  const rotation = Math.abs(video.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? Number(video.tags?.rotate ?? 0)) % 360;
  const turned = rotation === 90 || rotation === 270;
  return { durationSeconds: report.format.duration, width: turned ? video.height : video.width, height: turned ? video.width : video.height, rotation };
}

let stack: TestStack;
let dir: string;
let jobs = 0;

before(async () => {
  stack = await startStack();
  dir = await mkdtemp(join(tmpdir(), 'video-ladder-'));
});
after(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

interface LadderRunResult {
  outputs?: Record<string, string>;
  error?: unknown;
  progress: number[];
  leftovers: string[];
  jobId: string;
}

/**
 * The task as the stage runs it: the clip uploaded to fauxqs, a private temp dir, an input downloaded on
 * request, an abort signal; never rejects.
 */
async function ladder(clip: string, rungs: RungName[] | undefined, opts: { abortOnProgress?: AbortController; kit?: VideoToolkit } = {}): Promise<LadderRunResult> {
  jobs += 1;
  const jobId = `ladder-${process.pid}-${jobs}`;
  const key = `uploads/${jobId}/${basename(clip)}`;
  await stack.store.upload(key, await readFile(clip), 'video/mp4');
  const job = JobMessage.parse({ jobId, kind: 'video', input: { bucket: stack.emulator.bucket, key }, video: rungs ? { ladder: rungs } : {} });
  const taskDir = join(dir, `task-${jobs}`);
  await mkdir(taskDir);
  const inputPath = join(dir, `input-${jobs}${extname(clip)}`);
  let input: Promise<string> | undefined;
  const progress: number[] = [];
  const ctx: TaskContext = {
    job,
    stage: 'analysis',
    store: stack.store,
    logger: pino({ level: 'silent' }),
    signal: opts.abortOnProgress?.signal ?? new AbortController().signal,
    tmpDir: taskDir,
    inputFile: () => {
      input ??= stack.store.downloadToFile(job.input, inputPath).then(() => inputPath);
      return input;
    },
    reportProgress: (f) => {
      progress.push(f);
      opts.abortOnProgress?.abort(new AbortedError('test abort'));
    },
  };
  try {
    const { outputs } = await new VideoLadderTask(opts.kit ?? kit).run(ctx);
    return { outputs, progress, leftovers: await readdir(taskDir), jobId };
  } catch (error) {
    return { error, progress, leftovers: await readdir(taskDir), jobId };
  }
}

async function object(key: string): Promise<{ body: Buffer; contentType?: string }> {
  const res = await stack.clients.s3.send(new GetObjectCommand({ Bucket: stack.emulator.bucket, Key: key }));
  return { body: Buffer.from((await res.Body?.transformToByteArray()) ?? []), contentType: res.ContentType };
}

const StreamInf = z.object({
  BANDWIDTH: z.coerce.number().int().positive(),
  'AVERAGE-BANDWIDTH': z.coerce.number().int().positive(),
  RESOLUTION: z.string().regex(/^\d+x\d+$/),
  CODECS: z.string(),
  'FRAME-RATE': z.coerce.number().positive(),
});

/** The master as a player reads it: each EXT-X-STREAM-INF's attributes and the URI on the next line. */
function parseMaster(text: string) {
  const lines = text.trim().split('\n');
  assert.equal(lines[0], '#EXTM3U');
  assert.ok(lines.includes('#EXT-X-INDEPENDENT-SEGMENTS'));
  return lines.flatMap((line, i) => {
    if (!line.startsWith('#EXT-X-STREAM-INF:')) return [];
    const attrs = Object.fromEntries([...line.slice(18).matchAll(/([A-Z-]+)=("[^"]*"|[^,]*)/g)].map((m) => [m[1], (m[2] ?? '').replace(/"/g, '')]));
    return [{ ...StreamInf.parse(attrs), uri: lines[i + 1] ?? '' }];
  });
}

function parseVariant(text: string) {
  const lines = text.trim().split('\n');
  const target = Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)?.[1]);
  const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)?.[1];
  const segments = lines.flatMap((line, i) => (line.startsWith('#EXTINF:') ? [{ duration: Number(line.slice(8).split(',')[0]), uri: lines[i + 1] ?? '' }] : []));
  return { target, map, segments, ended: lines.at(-1) === '#EXT-X-ENDLIST' };
}

const Packets = z.object({ packets: z.array(z.object({ pts_time: z.coerce.number(), flags: z.string() })) });

interface Variant {
  name: string;
  width: number;
  height: number;
  streams: z.infer<typeof Probe>['streams'];
  target: number;
  durations: number[];
  /** Where each segment starts (sum of the EXTINFs before it). */
  starts: number[];
  /** Video keyframe times over the whole variant. */
  keyframes: number[];
  /** Whether the first video packet of each segment is a keyframe. */
  segmentsStartOnKey: boolean[];
}

/**
 * Downloads a variant from the store and checks it the way a player would read it: its playlist, then
 * the init section with every segment (concatenated: one fragmented MP4) probed by ffprobe.
 */
async function fetchVariant(jobId: string, name: string): Promise<Variant> {
  const base = `jobs/${jobId}/video/${name}`;
  const playlist = await object(`${base}/index.m3u8`);
  assert.equal(playlist.contentType, 'application/vnd.apple.mpegurl');
  const parsed = parseVariant(playlist.body.toString('utf8'));
  assert.ok(parsed.ended, `${name}: EXT-X-ENDLIST`);
  assert.ok(parsed.map, `${name}: EXT-X-MAP`);
  const init = await object(`${base}/${parsed.map}`);
  assert.equal(init.contentType, 'video/mp4');
  const local = join(dir, `${jobId}-${name}`);
  await mkdir(local);
  const parts: Buffer[] = [init.body];
  const segmentsStartOnKey: boolean[] = [];
  for (const seg of parsed.segments) {
    const got = await object(`${base}/${seg.uri}`);
    assert.equal(got.contentType, 'video/iso.segment');
    parts.push(got.body);
    // Each segment alone after the init section: its first video packet must be a keyframe.
    const one = join(local, `${seg.uri}.mp4`);
    await writeFile(one, Buffer.concat([init.body, got.body]));
    const { stdout } = await run(binaries.ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'json', one]);
    segmentsStartOnKey.push(Packets.parse(JSON.parse(stdout)).packets[0]?.flags.startsWith('K') ?? false);
  }
  const whole = join(local, 'whole.mp4');
  await writeFile(whole, Buffer.concat(parts));
  const probed = await probe(whole);
  const video = probed.streams.find((s) => s.codec_type === 'video');
  assert.ok(video?.width && video.height);
  const { stdout } = await run(binaries.ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'json', whole]);
  const packets = Packets.parse(JSON.parse(stdout)).packets;
  const durations = parsed.segments.map((s) => s.duration);
  return {
    name,
    width: video.width,
    height: video.height,
    streams: probed.streams,
    target: parsed.target,
    durations,
    starts: durations.map((_, i) => durations.slice(0, i).reduce((a, b) => a + b, 0)),
    keyframes: packets.filter((p) => p.flags.startsWith('K')).map((p) => p.pts_time).sort((a, b) => a - b),
    segmentsStartOnKey,
  };
}

function checkVariants(variants: Variant[], sourceSeconds: number, frameSeconds: number): void {
  for (const v of variants) {
    assert.ok(v.segmentsStartOnKey.every(Boolean), `${v.name}: every segment starts with a keyframe`);
    const total = v.durations.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - sourceSeconds) <= 0.2, `${v.name}: EXTINF total ${total} vs source ${sourceSeconds}`);
    for (const d of v.durations) assert.ok(v.target >= Math.ceil(d - 1e-6), `${v.name}: TARGETDURATION ${v.target} < EXTINF ${d}`);
    // Every segment boundary is a keyframe (one frame's tolerance for timestamp rounding).
    for (const start of v.starts) {
      assert.ok(v.keyframes.some((k) => Math.abs(k - v.keyframes[0]! - start) < frameSeconds), `${v.name}: no keyframe at segment start ${start} (${v.keyframes.join(',')})`);
    }
    for (const s of v.streams.filter((s) => s.codec_type === 'video')) {
      assert.ok(!s.side_data_list?.some((d) => d.rotation !== undefined && d.rotation !== 0), `${v.name}: no rotation matrix`);
      assert.equal(s.tags?.rotate, undefined, `${v.name}: no rotate tag`);
    }
  }
  const [first, ...rest] = variants;
  for (const v of rest) {
    assert.deepEqual(v.keyframes, first?.keyframes, `keyframes of ${v.name} and ${first?.name} are aligned`);
    assert.deepEqual(v.durations, first?.durations, `segments of ${v.name} and ${first?.name} cut at the same times`);
  }
}

test('video ladder: 640x360 with audio asked for 720p, 360p, 240p: 720p skipped, aligned fMP4 variants, measured master, progress', async () => {
  const clip = await makeClip(dir, { name: 'landscape.mp4', seconds: 7, width: 640, height: 360, fps: 25 });
  const source = await clipFacts(clip);
  const started = Date.now();
  const result = await ladder(clip, ['720p', '360p', '240p']);
  const elapsed = Date.now() - started;
  assert.equal(result.error, undefined, String(result.error));
  assert.deepEqual(result.leftovers, [], 'temp files removed');
  const prefix = `jobs/${result.jobId}/`;
  assert.deepEqual(result.outputs, {
    'video/master.m3u8': `${prefix}video/master.m3u8`,
    'video/360p/index.m3u8': `${prefix}video/360p/index.m3u8`,
    'video/240p/index.m3u8': `${prefix}video/240p/index.m3u8`,
  });

  const master = await object(`${prefix}video/master.m3u8`);
  assert.equal(master.contentType, 'application/vnd.apple.mpegurl');
  assert.match(master.body.toString('utf8'), /^#EXTM3U\n#EXT-X-VERSION:7\n/);
  const entries = parseMaster(master.body.toString('utf8'));
  assert.deepEqual(entries.map((e) => [e.uri, e.RESOLUTION]), [['360p/index.m3u8', '640x360'], ['240p/index.m3u8', '426x240']]);

  const variants = await Promise.all(entries.map((e) => fetchVariant(result.jobId, e.uri.split('/')[0] ?? '')));
  checkVariants(variants, source.durationSeconds, 1 / 25);
  for (const [i, e] of entries.entries()) {
    const v = variants[i] as Variant;
    assert.equal(`${v.width}x${v.height}`, e.RESOLUTION, 'the picture is the size the master says');
    assert.ok(e.BANDWIDTH >= e['AVERAGE-BANDWIDTH'] && e['AVERAGE-BANDWIDTH'] > 0);
    assert.equal(e['FRAME-RATE'], 25);
    const codecs = e.CODECS.split(',');
    assert.equal(codecs.length, 2);
    assert.match(codecs[0] ?? '', /^avc1\.[0-9a-f]{6}$/);
    assert.equal(codecs[1], 'mp4a.40.2');
    const audio = v.streams.find((s) => s.codec_type === 'audio');
    assert.equal(audio?.codec_name, 'aac');
    assert.equal(audio?.sample_rate, 48000);
  }
  // main profile for these small rungs: 0x4d.
  assert.ok(entries.every((e) => e.CODECS.startsWith('avc1.4d')), entries.map((e) => e.CODECS).join(' '));
  // The first segment is 4 s (100 frames at 25 fps), the rest the remainder.
  assert.ok(Math.abs((variants[0]?.durations[0] ?? 0) - 4) < 0.05, `first segment ${variants[0]?.durations[0]}`);
  // 360p has more pixels than 240p: it needs more bits.
  assert.ok((entries[0]?.['AVERAGE-BANDWIDTH'] ?? 0) > (entries[1]?.['AVERAGE-BANDWIDTH'] ?? 0));

  assert.ok(result.progress.length >= 2, `progress reported ${result.progress.length} times`);
  for (let i = 1; i < result.progress.length; i++) assert.ok((result.progress[i] ?? 0) > (result.progress[i - 1] ?? 0), 'progress only increases');
  assert.equal(result.progress.at(-1), 1);
  assert.ok(result.progress.every((f) => f > 0 && f <= 1));
  const objects = await stack.clients.s3.send(new HeadObjectCommand({ Bucket: stack.emulator.bucket, Key: `${prefix}video/360p/init.mp4` }));
  assert.equal(objects.ContentType, 'video/mp4');
  console.log(`ladder 360p+240p of 7 s 640x360: ${elapsed} ms with ${binaries.ffmpeg}`);
});

test('video ladder: a portrait phone clip (rotation 90) without audio asked only for 720p: one portrait variant at the source size, no rotation, no audio codec', async () => {
  const clip = await makeClip(dir, { name: 'portrait.mp4', seconds: 5, width: 640, height: 360, fps: 30, audio: false, rotation: 90 });
  const source = await clipFacts(clip);
  assert.equal(source.rotation, 90, 'the clip carries a display matrix');
  assert.deepEqual([source.width, source.height], [360, 640]);
  const result = await ladder(clip, ['720p']);
  assert.equal(result.error, undefined, String(result.error));
  assert.deepEqual(Object.keys(result.outputs ?? {}).sort(), ['video/360p/index.m3u8', 'video/master.m3u8']);
  const entries = parseMaster((await object(`jobs/${result.jobId}/video/master.m3u8`)).body.toString('utf8'));
  assert.equal(entries.length, 1);
  const entry = entries[0] as (typeof entries)[number];
  assert.equal(entry.RESOLUTION, '360x640');
  assert.match(entry.CODECS, /^avc1\.4d[0-9a-f]{4}$/, 'video only');
  assert.equal(entry['FRAME-RATE'], 30);
  const variant = await fetchVariant(result.jobId, '360p');
  assert.deepEqual([variant.width, variant.height], [360, 640], 'portrait, upright');
  assert.ok(variant.width < variant.height);
  assert.equal(variant.streams.filter((s) => s.codec_type === 'audio').length, 0);
  checkVariants([variant], source.durationSeconds, 1 / 30);
});

/** ffmpeg processes whose command line names this path (ours: the runner's children). */
async function ffmpegsUsing(path: string): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  return stdout.split('\n').filter((line) => line.includes(path) && /ffmpeg/.test(line) && !line.includes(' ps '));
}

test('video ladder: abort mid-encode stops ffmpeg, rejects, and leaves no temp files', async () => {
  const clip = await makeClip(dir, { name: 'abort.mp4', seconds: 8, width: 640, height: 360, fps: 60 });
  const abort = new AbortController();
  const result = await ladder(clip, ['360p', '240p'], { abortOnProgress: abort });
  assert.ok(abort.signal.aborted, 'progress was reported before the encode ended');
  assert.ok(result.error instanceof AbortedError, `the run rejects as aborted: ${String(result.error)}`);
  assert.equal(result.outputs, undefined);
  assert.deepEqual(result.leftovers, []);
  assert.deepEqual(await ffmpegsUsing(join(dir, `task-${jobs}`)), [], 'no ffmpeg left running');
  const listed = await stack.store.getJson(`jobs/${result.jobId}/video/master.m3u8`, z.unknown()).catch(() => undefined);
  assert.equal(listed, undefined, 'no master written');
});

test('video ladder: an encode past its time budget fails the job as VIDEO_TIMEOUT, with ffmpeg stopped and no temp files', async () => {
  const clip = await makeClip(dir, { name: 'slow.mp4', seconds: 8, width: 640, height: 360, fps: 60 });
  const tight: VideoToolkit = { ...kit, limits: { ...kit.limits, runTimeoutMs: () => 300 } };
  const result = await ladder(clip, ['360p', '240p'], { kit: tight });
  assert.ok(result.error instanceof BadInputError, String(result.error));
  assert.equal(result.error.code, 'VIDEO_TIMEOUT');
  assert.deepEqual(result.leftovers, []);
  assert.deepEqual(await ffmpegsUsing(join(dir, `task-${jobs}`)), [], 'no ffmpeg left running');
  const keys = await stack.clients.s3.send(new ListObjectsV2Command({ Bucket: stack.emulator.bucket, Prefix: `jobs/${result.jobId}/` }));
  assert.equal(keys.KeyCount ?? 0, 0, 'nothing uploaded');
});
