import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortedError } from '../../../contract/errors.js';
import { asTaskError, corrupt } from '../ffmpeg/failures.js';
import type { VideoToolkit } from '../ffmpeg/toolkit.js';
import type { VideoSource } from '../input/video-info.js';
import { filterStats, parseFrameStats } from './frame-stats.js';
import { choosePoster, defaultStillsOptions, fitWithin, isUsablePoster, posterCandidateTimes, type LumaStats, type StillsOptions } from './layout.js';
import { uploadRun, videoStreamOnly, type StillsRunContext } from './stills-runs.js';

export interface Poster {
  readonly jpeg: Buffer;
  /** Where in the video it was taken, and its luma statistics (for logs and tests). */
  readonly time: number;
  readonly stats: LumaStats;
}

interface Candidate {
  readonly time: number;
  readonly stats: LumaStats;
  readonly file: string;
}

/**
 * A representative frame as a JPEG: candidate times are tried in order (posterCandidateTimes) and the
 * first frame that is neither near black nor flat is kept, so a video that opens on black gets a frame
 * from after it. Each try seeks on the input (`-ss` before `-i`): only the frames from the keyframe
 * before the time up to it are decoded, and usually the first try is kept. When every candidate is
 * black or flat (an all-black video), the brightest one is the poster.
 */
export async function makePoster(kit: VideoToolkit, source: VideoSource, ctx: StillsRunContext, options: StillsOptions = defaultStillsOptions): Promise<Poster> {
  const dir = await mkdtemp(join(ctx.tmpDir, 'poster-'));
  try {
    const size = fitWithin(source.info.video, options.posterLongSide);
    const tried: Candidate[] = [];
    for (const [i, time] of posterCandidateTimes(source.info.durationSeconds, source.info.video.frameRate).entries()) {
      if (ctx.signal.aborted) throw new AbortedError('poster: aborted');
      const candidate = await frameAt(kit, source, ctx, dir, `candidate-${i}`, time, size);
      if (!candidate) continue;
      tried.push(candidate);
      if (isUsablePoster(candidate.stats)) break;
    }
    const chosen = choosePoster(tried);
    if (!chosen) throw corrupt();
    return { jpeg: await readFile(chosen.file), time: chosen.time, stats: chosen.stats };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One frame at `time`, scaled and as a JPEG, with its statistics; undefined if there is no frame there. */
async function frameAt(kit: VideoToolkit, source: VideoSource, ctx: StillsRunContext, dir: string, name: string, time: number, size: { width: number; height: number }): Promise<Candidate | undefined> {
  const file = join(dir, `${name}.jpg`);
  const statsFile = join(dir, `${name}.txt`);
  await kit.ffmpeg
    .run({
      what: 'poster',
      ...uploadRun(kit, source, time > 0 ? ['-ss', time.toFixed(3)] : []),
      // ffmpeg rotates on decode, so the display size is the frame's size; setsar: square pixels in the JPEG.
      outputArgs: [
        ...videoStreamOnly(source),
        '-vf', `scale=${size.width}:${size.height},setsar=1,${filterStats(statsFile)}`,
        '-frames:v', '1', '-c:v', 'mjpeg', '-q:v', '3', '-f', 'image2', '-update', '1',
      ],
      output: file,
      signal: ctx.signal,
    })
    .catch((err: unknown) => Promise.reject(asTaskError(err)));
  const written = await stat(file).then((s) => s.size > 0, () => false);
  // The filter may see a frame more than the one encoded: the first report is the poster's.
  const stats = parseFrameStats(await readFile(statsFile, 'utf8').catch(() => ''))[0];
  return written && stats ? { time, stats: stats.luma, file } : undefined;
}
