import type { Config } from '../../../contract/env.js';
import type { FfmpegRunner } from '../../../media/ffmpeg.js';
import type { MediaProber } from '../../../media/ffprobe.js';

/** The configuration the video limits come from (src/contract/env.ts holds their defaults). */
export type VideoLimitsConfig = Pick<
  Config,
  | 'MAX_INPUT_BYTES'
  | 'VIDEO_MAX_DURATION_SECONDS'
  | 'VIDEO_MAX_PIXELS'
  | 'VIDEO_MAX_FRAME_RATE'
  | 'VIDEO_MAX_FRAMES'
  | 'VIDEO_PROBE_TIMEOUT_SECONDS'
  | 'VIDEO_RUN_TIMEOUT_SECONDS'
  | 'VIDEO_RUN_TIMEOUT_RATIO'
>;

export interface VideoLimits {
  readonly maxBytes: number;
  readonly maxDurationSeconds: number;
  /** Displayed width × height. */
  readonly maxPixels: number;
  readonly maxFrameRate: number;
  readonly maxFrames: number;
  readonly probeTimeoutMs: number;
  /** Wall-clock budget of one ffmpeg run over video of this length. */
  runTimeoutMs(durationSeconds: number): number;
}

export function videoLimits(config: VideoLimitsConfig): VideoLimits {
  return {
    maxBytes: config.MAX_INPUT_BYTES,
    maxDurationSeconds: config.VIDEO_MAX_DURATION_SECONDS,
    maxPixels: config.VIDEO_MAX_PIXELS,
    maxFrameRate: config.VIDEO_MAX_FRAME_RATE,
    maxFrames: config.VIDEO_MAX_FRAMES,
    probeTimeoutMs: config.VIDEO_PROBE_TIMEOUT_SECONDS * 1000,
    runTimeoutMs: (durationSeconds) => Math.ceil((config.VIDEO_RUN_TIMEOUT_SECONDS + config.VIDEO_RUN_TIMEOUT_RATIO * durationSeconds) * 1000),
  };
}

/** What the video tasks share: how to run ffmpeg, how to probe, the limits on input, and the input restrictions. */
export interface VideoToolkit {
  readonly ffmpeg: FfmpegRunner;
  readonly prober: MediaProber;
  readonly limits: VideoLimits;
  /** Options before `-i` for every run that reads an upload (untrustedInputArgs with video's demuxers). */
  readonly inputArgs: readonly string[];
  /** The ffprobe binary, for probing a stream on stdin (kind confirmation at ingestion). */
  readonly ffprobePath: string;
}
