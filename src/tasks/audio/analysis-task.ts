import { jobKey } from '../../storage/object-store.js';
import type { Task, TaskContext, TaskResult } from '../task.js';
import type { AudioAnalysisReport } from './analysis-report.js';
import { openAudioInput } from './audio-input.js';
import { firstAudioTrack, uploadRun } from './ffmpeg-args.js';
import { asTaskError } from './failures.js';
import { Ebur128SummaryParser, progressSeconds, SilenceParser } from './filter-reports.js';
import type { AudioToolkit } from './toolkit.js';

export interface TrackAnalysisOptions {
  readonly silenceThresholdDb: number;
  readonly silenceMinSeconds: number;
}

export const defaultTrackAnalysisOptions: TrackAnalysisOptions = { silenceThresholdDb: -50, silenceMinSeconds: 0.5 };

/**
 * Analysis: analysis.json with the track's format facts (from ffprobe) and, from one decode, EBU R128
 * loudness (ebur128 with true peak) and silent spans (silencedetect, which runs first, at the source's
 * rate, since ebur128 resamples to 48 kHz).
 */
export class TrackAnalysisTask implements Task {
  readonly name = 'audio-analysis';

  constructor(
    private readonly kit: AudioToolkit,
    private readonly options: TrackAnalysisOptions = defaultTrackAnalysisOptions,
  ) {}

  async run(ctx: TaskContext): Promise<TaskResult> {
    const source = await openAudioInput(ctx, this.kit);
    const { silenceThresholdDb, silenceMinSeconds } = this.options;
    const loudness = new Ebur128SummaryParser();
    const silence = new SilenceParser();
    let decodedSeconds = 0;
    try {
      await this.kit.ffmpeg.run({
        what: 'loudness and silence',
        ...uploadRun(source, this.kit.limits, 'info'),
        outputArgs: [
          '-stats', ...firstAudioTrack(this.kit.limits),
          // framelog=verbose keeps the ten-per-second momentary readings out of an info-level log.
          '-af', `silencedetect=noise=${silenceThresholdDb}dB:duration=${silenceMinSeconds},ebur128=peak=true:framelog=verbose`,
          '-f', 'null',
        ],
        output: '-',
        signal: ctx.signal,
        onStderrLine: (line) => {
          loudness.line(line);
          silence.line(line);
          decodedSeconds = progressSeconds(line) ?? decodedSeconds;
        },
      });
    } catch (err) {
      throw asTaskError(err);
    }
    const summary = loudness.result();
    if (!summary) throw new Error('ffmpeg finished without printing the ebur128 summary');
    const info = source.info;
    // The decoded length is exact; the container's may be an estimate (MP3 without an index).
    const durationSeconds = decodedSeconds > 0 ? decodedSeconds : info.durationSeconds;
    const report: AudioAnalysisReport = {
      durationSeconds,
      sampleRate: info.sampleRate,
      channels: info.channels,
      channelLayout: info.channelLayout ?? null,
      codec: info.codec,
      container: info.formatName,
      bitRate: info.bitRate ?? null,
      loudness: summary,
      silence: { thresholdDb: silenceThresholdDb, minDurationSeconds: silenceMinSeconds, spans: silence.result(durationSeconds) },
    };
    const key = await ctx.store.putJson(jobKey(ctx.job.jobId, 'analysis.json'), report, ctx.signal);
    return { outputs: { 'analysis.json': key } };
  }
}
