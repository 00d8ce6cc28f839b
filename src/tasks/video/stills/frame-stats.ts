import { z } from 'zod';
import type { LumaStats } from './layout.js';

/**
 * ffmpeg's `signalstats,metadata=mode=print:file=…` report, written to a file of ours (stderr also
 * carries the upload's tags, which could imitate these lines). Per frame: a header line
 * `frame:0    pts:0       pts_time:0`, then one `lavfi.signalstats.KEY=value` line per statistic.
 */
export const filterStats = (statsPath: string): string =>
  `signalstats,metadata=mode=print:file=${filterOptionValue(statsPath)}`;

const level = z.coerce.number().finite().min(0);
const FrameReport = z.object({
  time: z.coerce.number().finite(),
  YAVG: level,
  YLOW: level,
  YHIGH: level,
});

export interface FrameStats {
  /** Seconds, on the output's timeline (the input's, from 0). */
  readonly time: number;
  readonly luma: LumaStats;
}

/** Frames whose report is incomplete or has no timestamp are left out. */
export function parseFrameStats(text: string): FrameStats[] {
  const frames: FrameStats[] = [];
  let current: Record<string, string> | undefined;
  const flush = () => {
    const parsed = current && FrameReport.safeParse(current);
    if (parsed?.success) frames.push({ time: parsed.data.time, luma: { average: parsed.data.YAVG, low: parsed.data.YLOW, high: parsed.data.YHIGH } });
  };
  for (const line of text.split('\n')) {
    const header = /^frame:\s*\d+\s+pts:\s*\S+\s+pts_time:\s*(\S+)/.exec(line);
    if (header) {
      flush();
      current = { time: header[1] as string };
      continue;
    }
    const entry = /^lavfi\.signalstats\.([A-Z]+)=(\S+)$/.exec(line.trim());
    if (entry && current) current[entry[1] as string] = entry[2] as string;
  }
  flush();
  return frames;
}

/**
 * A value for a filter option inside a `-vf` graph, escaped twice: for the option parser (`\ ' :`) and
 * then for the graph parser (`\ ' [ ] , ;`), so a path is read as one value whatever it contains.
 */
export function filterOptionValue(value: string): string {
  return value.replace(/[\\':]/g, (c) => `\\${c}`).replace(/[\\'[\],;]/g, (c) => `\\${c}`);
}
