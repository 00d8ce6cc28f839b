import { join } from 'node:path';
import { segmentSeconds, type PlannedRung } from './rungs.js';

/** Names inside each variant's directory (`video/<rung>/`). */
export const playlistFile = 'index.m3u8';
export const initFile = 'init.mp4';
export const segmentPattern = 'seg_%05d.m4s';

export interface LadderEncode {
  readonly rungs: readonly PlannedRung[];
  /** Where variant `name` is written: `<dir>/<name>/`. */
  readonly dir: string;
  /** The source's frame rate (frames per second, after probing). */
  readonly frameRate: number;
  /** The first audio track's sample rate and channels; undefined: the source has no audio, the variants neither. */
  readonly audio?: { readonly sampleRate?: number; readonly channels?: number };
  /** No output runs past this (the length limit), whatever the container claimed. */
  readonly maxSeconds: number;
}

/** Frames between keyframes: one GOP per segment, so every segment of every rung starts on one. */
export const gopFrames = (frameRate: number): number => Math.max(1, Math.round(frameRate * segmentSeconds));

/**
 * The one filter graph: the first video stream decoded once (already turned upright: ffmpeg applies the
 * display matrix on decode), split into one branch per rung, each scaled to its exact size with square
 * pixels and 8-bit 4:2:0 (what every H.264 decoder plays). Its outputs are `[v0]`, `[v1]`, ….
 */
export function ladderFilter(rungs: readonly PlannedRung[]): string {
  const scale = (r: PlannedRung) => `scale=${r.width}:${r.height},setsar=1,format=yuv420p`;
  if (rungs.length === 1) return `[0:v:0]${scale(rungs[0] as PlannedRung)}[v0]`;
  const branches = rungs.map((_, i) => `[s${i}]`).join('');
  return [`[0:v:0]split=${rungs.length}${branches}`, ...rungs.map((r, i) => `[s${i}]${scale(r)}[v${i}]`)].join(';');
}

/** AAC-LC at 128 kbit/s: stereo (mono stays mono), 44.1 kHz kept, anything else made 48 kHz. */
function audioArgs(audio: NonNullable<LadderEncode['audio']>): string[] {
  const channels = audio.channels === 1 ? 1 : 2;
  const rate = audio.sampleRate === 44100 ? 44100 : 48000;
  return ['-map', '0:a:0', '-c:a', 'aac', '-b:a', '128k', '-ac', String(channels), '-ar', String(rate)];
}

/**
 * Everything after `-i` for one ffmpeg run that writes the whole ladder, and the last output's path
 * (FfmpegRun takes it apart). Keyframes are aligned across rungs: all encoders see the same frames, with
 * a fixed GOP of one segment (`-g` = `-keyint_min`), no scene-cut keyframes, and a keyframe forced at
 * every segment boundary by time (which also holds for a variable frame rate); the hls muxer cuts at the
 * first keyframe at or after each boundary, so every segment starts on one, at the same time in every rung.
 */
export function ladderOutputArgs(spec: LadderEncode): { outputArgs: string[]; output: string } {
  const gop = String(gopFrames(spec.frameRate));
  const args: string[] = ['-filter_complex', ladderFilter(spec.rungs)];
  const outputs = spec.rungs.map((rung, i) => {
    const dir = join(spec.dir, rung.name);
    return {
      args: [
        '-map', `[v${i}]`,
        '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', rung.profile, '-pix_fmt', 'yuv420p',
        '-crf', '23', '-maxrate', `${rung.maxrateKbps}k`, '-bufsize', `${2 * rung.maxrateKbps}k`,
        '-g', gop, '-keyint_min', gop, '-sc_threshold', '0', '-force_key_frames', `expr:gte(t,n_forced*${segmentSeconds})`,
        ...(spec.audio ? audioArgs(spec.audio) : []),
        '-t', String(spec.maxSeconds),
        // Nothing of the input's metadata or chapters is republished.
        '-map_metadata', '-1', '-map_chapters', '-1',
        '-f', 'hls', '-hls_time', String(segmentSeconds), '-hls_playlist_type', 'vod',
        '-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', initFile,
        '-hls_segment_filename', join(dir, segmentPattern),
      ],
      path: join(dir, playlistFile),
    };
  });
  outputs.forEach((out, i) => {
    args.push(...out.args);
    if (i < outputs.length - 1) args.push(out.path);
  });
  return { outputArgs: args, output: (outputs.at(-1) as { path: string }).path };
}
