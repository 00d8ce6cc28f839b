import { z } from 'zod';

/** How the stills are shaped; the defaults keep a sheet of any length of video within 10 × 10 small tiles. */
export interface StillsOptions {
  /** The poster's longer side at most (never enlarged). */
  readonly posterLongSide: number;
  /** Each tile's longer side at most (never enlarged): 160 px gives 160x90 for 16:9, 90x160 for 9:16. */
  readonly tileLongSide: number;
  /** One tile every this many seconds at least… */
  readonly minIntervalSeconds: number;
  /** …and never more tiles than this: longer videos get a longer interval. */
  readonly maxTiles: number;
  readonly columns: number;
}

export const defaultStillsOptions: StillsOptions = {
  posterLongSide: 1280,
  tileLongSide: 160,
  minIntervalSeconds: 2,
  maxTiles: 100,
  columns: 10,
};

export interface Size {
  readonly width: number;
  readonly height: number;
}

/**
 * The display size scaled so its longer side is at most `longSide`, keeping the aspect ratio and the
 * orientation; even dimensions (4:2:0 chroma needs them), never enlarged.
 */
export function fitWithin(display: Size, longSide: number): Size {
  const scale = Math.min(1, longSide / Math.max(display.width, display.height));
  const even = (n: number) => Math.max(2, 2 * Math.round((n * scale) / 2));
  return { width: even(display.width), height: even(display.height) };
}

/** One thumbnail cue: a span of the video and the rectangle of the sheet that shows it. */
export const ThumbnailCue = z
  .object({
    start: z.number().nonnegative(),
    end: z.number().positive(),
    x: z.number().int().nonnegative(),
    y: z.number().int().nonnegative(),
    w: z.number().int().positive(),
    h: z.number().int().positive(),
  })
  .refine((cue) => cue.end > cue.start, 'a cue ends after it starts');
export type ThumbnailCue = z.infer<typeof ThumbnailCue>;

export interface ThumbnailPlan {
  /** Seconds between tiles; tile i shows the video from i × interval. */
  readonly interval: number;
  readonly count: number;
  readonly columns: number;
  readonly rows: number;
  readonly tile: Size;
  readonly sheet: Size;
  readonly cues: readonly ThumbnailCue[];
}

/** VTT times are in milliseconds: boundaries are rounded once, so each cue ends exactly where the next starts. */
const ms = (seconds: number) => Math.round(seconds * 1000) / 1000;

/**
 * Where every tile goes: one every max(minInterval, duration / maxTiles) seconds, in rows of `columns`
 * tiles; cue i covers [i × interval, (i + 1) × interval), the last one ending at the duration, so the
 * cues cover the whole video without gaps. A video shorter than the interval still gets one cue.
 */
export function planThumbnails(durationSeconds: number, display: Size, options: StillsOptions = defaultStillsOptions): ThumbnailPlan {
  const interval = Math.max(options.minIntervalSeconds, durationSeconds / options.maxTiles);
  // The epsilon keeps duration = k × interval (up to float error) at k tiles, not k + 1.
  const count = Math.min(options.maxTiles, Math.max(1, Math.ceil(durationSeconds / interval - 1e-6)));
  const columns = Math.min(options.columns, count);
  const rows = Math.ceil(count / columns);
  const tile = fitWithin(display, options.tileLongSide);
  const cues = Array.from({ length: count }, (_, i) => {
    const start = ms(i * interval);
    const end = i === count - 1 ? Math.max(ms(durationSeconds), start + 0.001) : ms((i + 1) * interval);
    return ThumbnailCue.parse({ start, end, x: (i % columns) * tile.width, y: Math.floor(i / columns) * tile.height, w: tile.width, h: tile.height });
  });
  return { interval, count, columns, rows, tile, sheet: { width: columns * tile.width, height: rows * tile.height }, cues };
}

/** `HH:MM:SS.mmm`, as WebVTT writes a timestamp. */
export function vttTimestamp(seconds: number): string {
  const total = Math.round(seconds * 1000);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(Math.floor(total / 3_600_000))}:${pad(Math.floor(total / 60_000) % 60)}:${pad(Math.floor(total / 1000) % 60)}.${pad(total % 1000, 3)}`;
}

/** The WebVTT thumbnail track: each cue's payload is the sheet's name with the tile's rectangle (a media fragment). */
export function thumbnailsVtt(plan: ThumbnailPlan, sheetName: string): string {
  const cues = plan.cues.map((cue) => `${vttTimestamp(cue.start)} --> ${vttTimestamp(cue.end)}\n${sheetName}#xywh=${cue.x},${cue.y},${cue.w},${cue.h}\n`);
  return ['WEBVTT\n', ...cues].join('\n');
}

/**
 * Which decoded frame each tile shows, given the times of the frames decoded (at most one per interval,
 * the first keyframe in it, in order): its own interval's frame, else the latest one before it (what a
 * player shows there), else the first frame (the video's first frame came after the first interval).
 */
export function framesForTiles(frameTimes: readonly number[], interval: number, count: number): number[] {
  if (frameTimes.length === 0) throw new Error('no frames to make tiles from');
  const slots = frameTimes.map((t) => Math.max(0, Math.floor(t / interval)));
  const chosen: number[] = [];
  let frame = 0;
  for (let tile = 0; tile < count; tile++) {
    while (frame + 1 < slots.length && (slots[frame + 1] as number) <= tile) frame += 1;
    chosen.push(frame);
  }
  return chosen;
}

/** The luma statistics of a frame (ffmpeg's signalstats, 8-bit scale whatever the source's depth). */
export interface LumaStats {
  readonly average: number;
  /** 10th and 90th percentiles: robust to a few stray pixels (a logo on black). */
  readonly low: number;
  readonly high: number;
}

/**
 * A usable poster frame is neither near black nor flat. Near black: nine pixels in ten are below 40, about
 * blackdetect's default pixel threshold (10 % of the range above black at 16); flat: nine pixels in ten
 * lie within 12 levels of one another (a blank title card, a fade).
 */
export const isUsablePoster = (stats: LumaStats): boolean => stats.high >= 40 && stats.high - stats.low >= 12;

/**
 * The candidate times for the poster, in order of preference: 10 %, 25 %, 50 %, 75 % of the way in,
 * kept a frame short of the end, then the first frame as the last resort (a video stream that ends
 * before the container's duration has no frame at the later times).
 */
export function posterCandidateTimes(durationSeconds: number, frameRate: number): number[] {
  const last = Math.max(0, durationSeconds - 1 / frameRate);
  const times = [0.1, 0.25, 0.5, 0.75].map((f) => ms(Math.min(last, f * durationSeconds)));
  return [...new Set([...times, 0])];
}

/** The poster among the candidates measured: the first usable one, else the brightest (an all-black video still gets one). */
export function choosePoster<T extends { readonly stats: LumaStats }>(candidates: readonly T[]): T | undefined {
  return candidates.find((c) => isUsablePoster(c.stats)) ?? candidates.reduce<T | undefined>((best, c) => (!best || c.stats.average > best.stats.average ? c : best), undefined);
}
