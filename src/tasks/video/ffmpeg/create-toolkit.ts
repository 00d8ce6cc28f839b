import type { Config } from '../../../contract/env.js';
import { FluentFfmpegRunner } from '../../../media/ffmpeg.js';
import { resolveFfmpegBinaries } from '../../../media/ffmpeg-binaries.js';
import { FfprobeProber } from '../../../media/ffprobe.js';
import { videoInputArgs } from './demuxers.js';
import { videoLimits, type VideoLimitsConfig, type VideoToolkit } from './toolkit.js';

export type VideoConfig = Pick<Config, 'FFMPEG_PATH' | 'FFPROBE_PATH'> & VideoLimitsConfig;

export interface VideoToolkitOptions {
  /** Time between SIGTERM and SIGKILL when a run is stopped. */
  readonly killGraceMs?: number;
}

/** The video tasks' tools, built once per process from the configuration (binaries checked here, at start-up). */
export function createVideoToolkit(config: VideoConfig, options: VideoToolkitOptions = {}): VideoToolkit {
  const bins = resolveFfmpegBinaries({ ...config, PATH: process.env.PATH });
  const limits = videoLimits(config);
  return {
    ffmpeg: new FluentFfmpegRunner({ ffmpegPath: bins.ffmpeg, ...(options.killGraceMs ? { killGraceMs: options.killGraceMs } : {}) }),
    prober: new FfprobeProber(bins.ffprobe, videoInputArgs, limits.probeTimeoutMs, options.killGraceMs),
    limits,
    inputArgs: videoInputArgs,
    ffprobePath: bins.ffprobe,
  };
}
