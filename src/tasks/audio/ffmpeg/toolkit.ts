import type { Config } from '../../../contract/env.js';
import { FluentFfmpegRunner, type FfmpegRunner } from '../../../media/ffmpeg.js';
import { resolveFfmpegBinaries } from '../../../media/ffmpeg-binaries.js';
import { FfprobeProber, type MediaProber } from '../../../media/ffprobe.js';
import { audioInputArgs, audioLimits, type AudioLimits, type AudioLimitsConfig } from './input-policy.js';

/** What the audio tasks share: how to run ffmpeg, how to probe, and the limits on input. */
export interface AudioToolkit {
  readonly ffmpeg: FfmpegRunner;
  readonly prober: MediaProber;
  readonly limits: AudioLimits;
}

export type AudioConfig = Pick<Config, 'FFMPEG_PATH' | 'FFPROBE_PATH'> & AudioLimitsConfig;

export interface ToolkitOptions {
  readonly killGraceMs?: number;
}

export function createAudioToolkit(config: AudioConfig, options: ToolkitOptions = {}): AudioToolkit {
  const bins = resolveFfmpegBinaries({ ...config, PATH: process.env.PATH });
  const limits = audioLimits(config);
  return {
    ffmpeg: new FluentFfmpegRunner({ ffmpegPath: bins.ffmpeg, ...(options.killGraceMs ? { killGraceMs: options.killGraceMs } : {}) }),
    prober: new FfprobeProber(bins.ffprobe, audioInputArgs, limits.probeTimeoutMs, options.killGraceMs),
    limits,
  };
}
