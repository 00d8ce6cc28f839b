import type { AudioSource } from './audio-input.js';
import { fileInput, untrustedInputArgs, type AudioLimits } from './input-policy.js';

/** Everything before `-i` when reading an upload: no stdin, the input restrictions, a log level. */
export const uploadInputArgs = (loglevel: 'error' | 'info'): string[] => ['-nostdin', '-hide_banner', '-loglevel', loglevel, ...untrustedInputArgs];

/** Selects the first audio track (no cover art, subtitles or data) and never reads past the length limit. */
export const firstAudioTrack = (limits: AudioLimits): string[] => ['-map', '0:a:0', '-t', String(limits.maxDurationSeconds)];

/** The common part of an ffmpeg run over an accepted upload. */
export function uploadRun(source: AudioSource, limits: AudioLimits, loglevel: 'error' | 'info') {
  return {
    inputArgs: uploadInputArgs(loglevel),
    input: fileInput(source.path),
    timeoutMs: limits.runTimeoutMs(source.info.durationSeconds),
  };
}
