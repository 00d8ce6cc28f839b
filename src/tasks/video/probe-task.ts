import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FfmpegExitError } from '../../media/ffmpeg.js';
import { fileInput } from '../../media/untrusted-input.js';
import type { Task, TaskContext, TaskResult } from '../../pipeline/task.js';
import { asTaskError, corrupt } from './ffmpeg/failures.js';
import type { VideoToolkit } from './ffmpeg/toolkit.js';
import { openVideoInput } from './input/open-video-input.js';
import type { VideoSource } from './input/video-info.js';

/** Seconds of video decoded at validation: enough to meet the first keyframes and the decoder's setup. */
const checkedSeconds = 2;
/** Decoder complaints tolerated in the checked part (a damaged frame in an otherwise good file). */
const toleratedDecodeErrors = 10;

/**
 * Validation: the upload is probed and held to the limits (openVideoInput), then the start of its video
 * is decoded, so a file ffprobe accepts but ffmpeg cannot decode (a valid index over damaged or fake
 * frames) fails here with VIDEO_CORRUPT, once, instead of in every task of the analysis stage.
 */
export class VideoProbeTask implements Task {
  readonly name = 'video-probe';

  constructor(private readonly kit: VideoToolkit) {}

  async run(ctx: TaskContext): Promise<TaskResult> {
    const source = await openVideoInput(ctx, this.kit);
    const decoded = await this.decodeStart(ctx, source);
    if (decoded.frames === 0 || decoded.errors > toleratedDecodeErrors) throw corrupt();
    ctx.logger.debug({ info: source.info, decoded }, 'video accepted');
    return { outputs: {} };
  }

  /** Decodes the first seconds of the video stream to nothing, counting frames (ffmpeg's progress report) and decoder errors. */
  private async decodeStart(ctx: TaskContext, source: VideoSource): Promise<{ frames: number; errors: number }> {
    const progress = join(ctx.tmpDir, 'decode.progress');
    let errors = 0;
    try {
      await this.kit.ffmpeg.run({
        what: 'decode check',
        inputArgs: ['-nostdin', '-hide_banner', '-loglevel', 'error', ...this.kit.inputArgs],
        input: fileInput(source.path),
        // The progress report goes to a file of ours: stderr also carries the input's tags.
        outputArgs: ['-progress', fileInput(progress), '-map', `0:${source.info.video.index}`, '-t', String(checkedSeconds), '-f', 'null'],
        output: '-',
        timeoutMs: this.kit.limits.runTimeoutMs(Math.min(checkedSeconds, source.info.durationSeconds)),
        signal: ctx.signal,
        onStderrLine: (line) => {
          const repeated = /Last message repeated (\d+) times/.exec(line);
          if (repeated) errors += Number(repeated[1]);
          else if (line.trim()) errors += 1;
        },
      });
      return { frames: progressFrames(await readFile(progress, 'utf8')), errors };
    } catch (err) {
      // Nothing but the input can make a decode to the null muxer fail.
      if (err instanceof FfmpegExitError) throw corrupt(err);
      throw asTaskError(err);
    } finally {
      await rm(progress, { force: true });
    }
  }
}

/** The last `frame=` of ffmpeg's progress report: frames decoded (and passed on) so far. */
export function progressFrames(report: string): number {
  const frames = [...report.matchAll(/^frame=(\d+)$/gm)].map((m) => Number(m[1]));
  return frames.at(-1) ?? 0;
}
