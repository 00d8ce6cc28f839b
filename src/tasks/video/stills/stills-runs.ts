import { fileInput } from '../../../media/untrusted-input.js';
import type { VideoToolkit } from '../ffmpeg/toolkit.js';
import type { VideoSource } from '../input/video-info.js';

/** What a still run needs besides the toolkit and the source: where to put files, and when to stop. */
export interface StillsRunContext {
  readonly tmpDir: string;
  readonly signal: AbortSignal;
}

/** Everything before `-i` when reading the upload: no stdin, the input restrictions, errors only. */
export const uploadInputArgs = (kit: VideoToolkit, extra: readonly string[] = []): string[] => [
  '-nostdin', '-hide_banner', '-loglevel', 'error', ...kit.inputArgs, ...extra,
];

/**
 * The source's video stream only (by index: never cover art or a second angle), and nothing of the
 * input's metadata or chapters: tags are the uploader's text, not ours to republish.
 */
export const videoStreamOnly = (source: VideoSource): string[] => [
  '-map', `0:${source.info.video.index}`, '-map_metadata', '-1', '-map_chapters', '-1',
];

/** The parts of an ffmpeg run that read the upload: its restricted input and a time budget for its length. */
export function uploadRun(kit: VideoToolkit, source: VideoSource, extraInputArgs: readonly string[] = []) {
  return {
    inputArgs: uploadInputArgs(kit, extraInputArgs),
    input: fileInput(source.path),
    timeoutMs: kit.limits.runTimeoutMs(source.info.durationSeconds),
  };
}
