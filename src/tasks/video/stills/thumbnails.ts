import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileInput } from '../../../media/untrusted-input.js';
import { asTaskError, corrupt } from '../ffmpeg/failures.js';
import type { VideoToolkit } from '../ffmpeg/toolkit.js';
import type { VideoSource } from '../input/video-info.js';
import { filterStats, parseFrameStats } from './frame-stats.js';
import { defaultStillsOptions, framesForTiles, planThumbnails, thumbnailsVtt, type Size, type StillsOptions, type ThumbnailPlan } from './layout.js';
import { uploadRun, videoStreamOnly, type StillsRunContext } from './stills-runs.js';

export interface Thumbnails {
  readonly sheet: Buffer;
  readonly vtt: string;
  readonly plan: ThumbnailPlan;
  /** Whether keyframes were not enough and every frame was decoded (see makeThumbnails). */
  readonly fullDecode: boolean;
}

/**
 * The thumbnail sheet (a grid of small frames, one per interval: planThumbnails) and its WebVTT track.
 *
 * Two runs. The first decodes keyframes only (`-skip_frame nokey`: a fraction of a full decode; measured
 * on 60 s of 1280x720 H.264 with a keyframe every 2 s: 0.3 s of CPU against 3.8 s for a full decode) and
 * keeps the first keyframe in each interval, scaled to a tile, as raw pictures with their times. Each
 * tile then shows its interval's keyframe, else the latest one before (a video with sparse keyframes
 * repeats a tile: what a player shows when seeking there is that keyframe too). The second run lays
 * exactly the tiles of the plan out in a grid and encodes the JPEG; the frames are chosen here and
 * not by ffmpeg's fps filter, which drops the intervals after a video's last keyframe.
 * A stream whose pictures are not marked as keyframes (intra refresh) yields none that way: then every
 * frame is decoded.
 */
export async function makeThumbnails(kit: VideoToolkit, source: VideoSource, ctx: StillsRunContext, options: StillsOptions = defaultStillsOptions, sheetName = 'thumbnails.jpg'): Promise<Thumbnails> {
  const plan = planThumbnails(source.info.durationSeconds, source.info.video, options);
  const dir = await mkdtemp(join(ctx.tmpDir, 'thumbnails-'));
  try {
    let fullDecode = false;
    let frames = await decodeTileFrames(kit, source, ctx, dir, plan, true);
    if (frames.times.length === 0) {
      fullDecode = true;
      frames = await decodeTileFrames(kit, source, ctx, dir, plan, false);
    }
    if (frames.times.length === 0) throw corrupt();
    const sheet = await layOut(kit, ctx, dir, plan, frames, source.info.durationSeconds);
    return { sheet, vtt: thumbnailsVtt(plan, sheetName), plan, fullDecode };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface TileFrames {
  /** Raw 4:2:0 pictures of the tile's size, one after the other. */
  readonly pixels: Buffer;
  readonly times: readonly number[];
}

const pictureBytes = (size: Size) => (size.width * size.height * 3) / 2;

async function decodeTileFrames(kit: VideoToolkit, source: VideoSource, ctx: StillsRunContext, dir: string, plan: ThumbnailPlan, keyframesOnly: boolean): Promise<TileFrames> {
  const raw = join(dir, 'frames.yuv');
  const statsFile = join(dir, 'frames.txt');
  const n = String(plan.interval);
  // The first frame of each interval. Intervals only grow, so frame k is in interval k - 1 or later (the
  // first may be before 0): count + 1 frames hold every tile's, and `-frames:v` ends the run there.
  const firstInInterval = `select='if(isnan(prev_selected_t),1,gte(floor(t/${n}),floor(prev_selected_t/${n})+1))'`;
  await kit.ffmpeg
    .run({
      what: keyframesOnly ? 'thumbnail keyframes' : 'thumbnail frames',
      ...uploadRun(kit, source, keyframesOnly ? ['-skip_frame', 'nokey'] : []),
      outputArgs: [
        ...videoStreamOnly(source),
        '-vf', `${firstInInterval},scale=${plan.tile.width}:${plan.tile.height},setsar=1,${filterStats(statsFile)}`,
        // vfr: each selected frame once (a raw output is otherwise filled up to a constant rate).
        '-vsync', 'vfr', '-frames:v', String(plan.count + 1), '-pix_fmt', 'yuv420p', '-f', 'rawvideo',
      ],
      output: raw,
      signal: ctx.signal,
    })
    .catch((err: unknown) => Promise.reject(asTaskError(err)));
  const pixels = await readFile(raw).catch(() => Buffer.alloc(0));
  const whole = Math.floor(pixels.length / pictureBytes(plan.tile));
  const times = parseFrameStats(await readFile(statsFile, 'utf8').catch(() => '')).map((f) => f.time).slice(0, whole);
  await Promise.all([rm(raw, { force: true }), rm(statsFile, { force: true })]);
  return { pixels, times };
}

/** Black in limited-range 4:2:0, for the unused places of the last row. */
function blackPicture(size: Size): Buffer {
  const luma = size.width * size.height;
  return Buffer.concat([Buffer.alloc(luma, 16), Buffer.alloc(luma / 2, 128)]);
}

async function layOut(kit: VideoToolkit, ctx: StillsRunContext, dir: string, plan: ThumbnailPlan, frames: TileFrames, durationSeconds: number): Promise<Buffer> {
  const bytes = pictureBytes(plan.tile);
  const picture = (i: number) => frames.pixels.subarray(i * bytes, (i + 1) * bytes);
  const tiles = framesForTiles(frames.times, plan.interval, plan.count).map(picture);
  const padding = Array.from({ length: plan.columns * plan.rows - plan.count }, () => blackPicture(plan.tile));
  const raw = join(dir, 'tiles.yuv');
  const sheet = join(dir, 'sheet.jpg');
  await writeFile(raw, Buffer.concat([...tiles, ...padding]), { mode: 0o600 });
  // Our own file of raw pictures, not the upload: its format is given, not probed.
  await kit.ffmpeg
    .run({
      what: 'thumbnail sheet',
      inputArgs: ['-nostdin', '-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'file', '-f', 'rawvideo', '-pixel_format', 'yuv420p', '-video_size', `${plan.tile.width}x${plan.tile.height}`],
      input: fileInput(raw),
      outputArgs: ['-vf', `tile=${plan.columns}x${plan.rows}`, '-frames:v', '1', '-c:v', 'mjpeg', '-q:v', '4', '-f', 'image2', '-update', '1'],
      output: sheet,
      timeoutMs: kit.limits.runTimeoutMs(Math.min(60, durationSeconds)),
      signal: ctx.signal,
    })
    .catch((err: unknown) => Promise.reject(asTaskError(err)));
  return readFile(sheet);
}
