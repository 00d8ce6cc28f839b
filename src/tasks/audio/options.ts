import { z } from 'zod';
import type { JobMessage } from '../../contract/job.js';

export const renditionNames = ['mp3-192k', 'mp3-128k', 'aac-128k', 'opus-96k', 'hls-aac-128k'] as const;
export const RenditionName = z.enum(renditionNames);
export type RenditionName = z.infer<typeof RenditionName>;

/** The `audio` options of a job request (contract section 3). */
export const AudioOptions = z.strictObject({
  renditions: z.array(RenditionName).min(1).default(['mp3-192k', 'aac-128k']),
});
export type AudioOptions = z.infer<typeof AudioOptions>;

/** The job's audio options, typed: the stage message was checked against AudioOptions when it was received. */
export const audioOptionsOf = (job: JobMessage): AudioOptions => AudioOptions.parse(job.audio ?? {});
