import { z } from 'zod';
import type { JobMessage } from '../../contract/job.js';

/** Ladder rungs, named by height (contract section 3), tallest first. */
export const rungNames = ['2160p', '1440p', '1080p', '720p', '480p', '360p', '240p'] as const;
export const RungName = z.enum(rungNames);
export type RungName = z.infer<typeof RungName>;

/** The `video` options of a job request (contract section 3). */
export const VideoOptions = z.strictObject({
  /** The rungs wanted; absent: every rung from 1080p down that fits the source. Rungs above the source are skipped. */
  ladder: z.array(RungName).min(1).optional(),
});
export type VideoOptions = z.infer<typeof VideoOptions>;

/** The job's video options, typed: the stage message was checked against VideoOptions when it was received. */
export const videoOptionsOf = (job: JobMessage): VideoOptions => VideoOptions.parse(job.video ?? {});
