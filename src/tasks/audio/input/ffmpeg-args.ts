import type { AudioSource } from './audio-input.js';
import { fileInput } from '../../../media/untrusted-input.js';
import { audioInputArgs, type AudioLimits } from '../ffmpeg/input-policy.js';

/** Everything before `-i` when reading an upload: no stdin, the input restrictions, a log level. */
export const uploadInputArgs = (loglevel: 'error' | 'info'): string[] => ['-nostdin', '-hide_banner', '-loglevel', loglevel, ...audioInputArgs];

/** Selects the first audio track (no cover art, subtitles or data) and never reads past the length limit. */
export const firstAudioTrack = (limits: AudioLimits): string[] => ['-map', '0:a:0', '-t', String(limits.maxDurationSeconds)];

/**
 * As firstAudioTrack, but reading up to a second past the limit: a decode that ends past the limit shows
 * the stream is too long (whatever the probe estimated), and is stopped there.
 */
export const firstAudioTrackPastLimit = (limits: AudioLimits): string[] => ['-map', '0:a:0', '-t', String(limits.maxDurationSeconds + 1)];

/** Nothing of the input's metadata or chapters goes into an output: tags are the uploader's text, not ours to republish. */
export const noInputMetadata: readonly string[] = ['-map_metadata', '-1', '-map_chapters', '-1'];

/**
 * ffmpeg's own progress report (`key=value` lines, the decoded length among them) into a file of ours:
 * unlike stderr, where the input's tags are printed too, nothing from the input can appear there.
 */
export const progressTo = (path: string): string[] => ['-progress', fileInput(path)];

/**
 * A value for a filter option inside an `-af` graph, escaped twice: for the option parser (`\ ' :`) and
 * then for the graph parser (`\ ' [ ] , ;`), so a path is read as one value whatever it contains.
 */
export function filterOptionValue(value: string): string {
  return value.replace(/[\\':]/g, (c) => `\\${c}`).replace(/[\\'[\],;]/g, (c) => `\\${c}`);
}

/**
 * The common part of an ffmpeg run over an accepted upload. Its time budget follows the audio's length;
 * a length ffprobe only estimated may be far off, so such a run gets the budget of the longest audio
 * accepted (the run itself never reads past that length).
 */
export function uploadRun(source: AudioSource, limits: AudioLimits, loglevel: 'error' | 'info') {
  const { durationEstimated, durationSeconds } = source.info;
  return {
    inputArgs: uploadInputArgs(loglevel),
    input: fileInput(source.path),
    timeoutMs: limits.runTimeoutMs(durationEstimated ? limits.maxDurationSeconds : durationSeconds),
  };
}
