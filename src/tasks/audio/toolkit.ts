import type { Config } from '../../config/env.js';
import { FluentFfmpegRunner, type FfmpegRunner } from './ffmpeg.js';
import { resolveFfmpegBinaries } from './ffmpeg-binaries.js';
import { FfprobeProber, type MediaProber } from './ffprobe.js';
import { defaultAudioLimits, type AudioLimits } from './input-policy.js';

/** What the audio tasks share: how to run ffmpeg, how to probe, and the limits on input. */
export interface AudioToolkit {
  readonly ffmpeg: FfmpegRunner;
  readonly prober: MediaProber;
  readonly limits: AudioLimits;
}

export interface ToolkitOptions {
  readonly limits?: Partial<AudioLimits>;
  readonly killGraceMs?: number;
}

export function createAudioToolkit(config: Pick<Config, 'FFMPEG_PATH' | 'FFPROBE_PATH'>, options: ToolkitOptions = {}): AudioToolkit {
  const bins = resolveFfmpegBinaries({ ...config, PATH: process.env.PATH });
  const limits = { ...defaultAudioLimits, ...options.limits };
  return {
    ffmpeg: new FluentFfmpegRunner({ ffmpegPath: bins.ffmpeg, ...(options.killGraceMs ? { killGraceMs: options.killGraceMs } : {}) }),
    prober: new FfprobeProber(bins.ffprobe, limits.probeTimeoutMs, options.killGraceMs),
    limits,
  };
}
