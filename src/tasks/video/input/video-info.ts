import { z } from 'zod';

/** The video stream of an upload, as every video task needs it (and analysis.json reports it). */
export const VideoStreamInfo = z.object({
  index: z.number().int(),
  codec: z.string(),
  profile: z.string().optional(),
  pixelFormat: z.string().optional(),
  /** Dimensions as coded in the stream. */
  codedWidth: z.number().int().positive(),
  codedHeight: z.number().int().positive(),
  /** Dimensions as displayed: sample aspect ratio applied, and swapped for a 90° or 270° rotation. */
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  frameRate: z.number().positive(),
  /** Clockwise degrees from the display matrix (0, 90, 180 or 270). */
  rotation: z.number(),
  /** The transfer characteristic (e.g. `smpte2084` for PQ, `arib-std-b67` for HLG) and whether that is HDR. */
  hdr: z.object({ transfer: z.string().optional(), isHdr: z.boolean() }),
  /** Frames in the stream: ffprobe's count where the container has one, else duration × frame rate. */
  frames: z.number().int().nonnegative(),
  bitRate: z.number().optional(),
});
export type VideoStreamInfo = z.infer<typeof VideoStreamInfo>;

export const AudioTrackInfo = z.object({
  index: z.number().int(),
  codec: z.string(),
  sampleRate: z.number().optional(),
  channels: z.number().int().optional(),
  channelLayout: z.string().optional(),
  bitRate: z.number().optional(),
  language: z.string().optional(),
});
export type AudioTrackInfo = z.infer<typeof AudioTrackInfo>;

/** What an accepted video upload is: the content of `analysis.json` for video (contract section 4). */
export const VideoInfo = z.object({
  container: z.string(),
  durationSeconds: z.number().nonnegative(),
  sizeBytes: z.number().int().nonnegative(),
  bitRate: z.number().optional(),
  video: VideoStreamInfo,
  audio: z.array(AudioTrackInfo),
});
export type VideoInfo = z.infer<typeof VideoInfo>;

export interface VideoSource {
  /** The private local copy of the upload (TaskContext.inputFile). */
  readonly path: string;
  readonly info: VideoInfo;
}
