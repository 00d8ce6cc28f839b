import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BadInputError } from '../../contract/errors.js';
import type { Task, TaskContext, TaskResult } from '../../pipeline/task.js';
import { openAudioInput, tooLong, type AudioSource } from './input/audio-input.js';
import { asTaskError } from './ffmpeg/failures.js';
import { FfmpegExitError } from '../../media/ffmpeg.js';
import { firstAudioTrackPastLimit, progressTo, uploadRun } from './input/ffmpeg-args.js';
import { progressSeconds } from './analysis/filter-reports.js';
import type { AudioToolkit } from './ffmpeg/toolkit.js';

/** Decoder errors tolerated in a file that otherwise decodes to its full length (a glitch, a bad tag). */
const toleratedDecodeErrors = 10;

const truncated = () =>
  new BadInputError('AUDIO_TRUNCATED', 'The audio file ends early: it is shorter than its own header says, so the upload or the export was cut off. Upload the complete file again.');

/**
 * Validation: the upload is probed under the input restrictions and then decoded once in full, so a
 * file that only starts like audio (random bytes behind a valid header, a cut-off file) fails here
 * with a code instead of half-way through analysis, and so does one that decodes past the length
 * limit however short its header or ffprobe's estimate makes it look.
 */
export class AudioProbeTask implements Task {
  readonly name = 'audio-probe';

  constructor(private readonly kit: AudioToolkit) {}

  async run(ctx: TaskContext): Promise<TaskResult> {
    const source = await openAudioInput(ctx, this.kit);
    if (source.wav?.truncated) throw truncated();
    const decoded = await this.decode(ctx, source);
    if (decoded.seconds > this.kit.limits.maxDurationSeconds) throw tooLong(this.kit.limits);
    const declared = source.info.durationSeconds;
    const short = declared - decoded.seconds > Math.max(0.5, declared * 0.02);
    if (decoded.seconds <= 0) {
      throw new BadInputError('AUDIO_CORRUPT', 'No audio could be decoded from the file: it appears to be damaged or is not really audio. Export it again and upload the new file.');
    }
    if (short && (!source.info.durationEstimated || decoded.errors > 0)) throw truncated();
    if (decoded.errors > toleratedDecodeErrors) {
      throw new BadInputError('AUDIO_CORRUPT', `The audio has ${decoded.errors} damaged passages that cannot be decoded. Export it again from the source and upload the new file.`);
    }
    ctx.logger.debug({ info: source.info, decoded }, 'audio accepted');
    return { outputs: {} };
  }

  /**
   * Decodes to nothing, up to a second past the length limit, counting decoder errors (every line
   * ffmpeg prints at level error) and reading the decoded length from ffmpeg's progress report.
   */
  private async decode(ctx: TaskContext, source: AudioSource): Promise<{ seconds: number; errors: number }> {
    const progress = join(ctx.tmpDir, 'decode.progress');
    let errors = 0;
    try {
      await this.kit.ffmpeg.run({
        what: 'decode check',
        ...uploadRun(source, this.kit.limits, 'error'),
        outputArgs: [...progressTo(progress), ...firstAudioTrackPastLimit(this.kit.limits), '-f', 'null'],
        output: '-',
        signal: ctx.signal,
        onStderrLine: (line) => {
          const repeated = /Last message repeated (\d+) times/.exec(line);
          if (repeated) errors += Number(repeated[1]);
          else if (line.trim()) errors += 1;
        },
      });
      return { seconds: progressSeconds(await readFile(progress, 'utf8')), errors };
    } catch (err) {
      if (err instanceof FfmpegExitError) {
        throw new BadInputError('AUDIO_CORRUPT', 'The audio could not be decoded: the file appears to be damaged. Export it again from the source and upload the new file.', { cause: err });
      }
      throw asTaskError(err);
    } finally {
      await rm(progress, { force: true });
    }
  }
}
