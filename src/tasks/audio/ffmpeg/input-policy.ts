import type { Config } from '../../../contract/env.js';
import { untrustedInputArgs } from '../../../media/untrusted-input.js';

/**
 * The demuxers of real audio containers, the only ones an audio upload is read with (src/media/untrusted-input.ts).
 * Names as ffmpeg matches them: any name of a demuxer such as `mov,mp4,m4a,3gp,3g2,mj2`.
 */
export const audioDemuxers = [
  'wav', 'w64', 'aiff', 'caf', 'mp3', 'aac', 'flac', 'ogg', 'mov', 'matroska',
  'ac3', 'eac3', 'amr', 'ape', 'wv', 'au', 'tta', 'dts',
] as const;

export const audioContainersForHumans = 'WAV, AIFF, CAF, MP3, AAC, FLAC, Ogg (Vorbis/Opus), M4A/MP4, Matroska/WebM, AC-3, AMR, APE, WavPack, AU, TTA, DTS';

/** Options placed before `-i` for every run that reads an audio upload. */
export const audioInputArgs = untrustedInputArgs(audioDemuxers);

/** The configuration the audio limits come from (src/contract/env.ts holds their defaults). */
export type AudioLimitsConfig = Pick<
  Config,
  | 'MAX_INPUT_BYTES'
  | 'AUDIO_MAX_DURATION_SECONDS'
  | 'AUDIO_MIN_SAMPLE_RATE'
  | 'AUDIO_MAX_SAMPLE_RATE'
  | 'AUDIO_MAX_CHANNELS'
  | 'AUDIO_PROBE_TIMEOUT_SECONDS'
  | 'AUDIO_RUN_TIMEOUT_SECONDS'
  | 'AUDIO_RUN_TIMEOUT_RATIO'
>;

export interface AudioLimits {
  /** Largest upload accepted, checked again (from HeadObject) before each stage downloads it. */
  readonly maxBytes: number;
  /** Longest audio accepted: from the probe, then on the decoded stream; no run reads past it (-t). */
  readonly maxDurationSeconds: number;
  readonly minSampleRate: number;
  readonly maxSampleRate: number;
  readonly maxChannels: number;
  readonly probeTimeoutMs: number;
  /** Wall-clock budget of one ffmpeg run over audio of this length. */
  runTimeoutMs(durationSeconds: number): number;
}

export function audioLimits(config: AudioLimitsConfig): AudioLimits {
  return {
    maxBytes: config.MAX_INPUT_BYTES,
    maxDurationSeconds: config.AUDIO_MAX_DURATION_SECONDS,
    minSampleRate: config.AUDIO_MIN_SAMPLE_RATE,
    maxSampleRate: config.AUDIO_MAX_SAMPLE_RATE,
    maxChannels: config.AUDIO_MAX_CHANNELS,
    probeTimeoutMs: config.AUDIO_PROBE_TIMEOUT_SECONDS * 1000,
    runTimeoutMs: (durationSeconds) => Math.ceil((config.AUDIO_RUN_TIMEOUT_SECONDS + config.AUDIO_RUN_TIMEOUT_RATIO * durationSeconds) * 1000),
  };
}
