import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { jobKey } from '../../contract/job-keys.js';
import type { Task, TaskContext, TaskResult } from '../../pipeline/task.js';
import type { AudioAnalysisReport } from './analysis/analysis-report.js';
import { openAudioInput, type AudioSource } from './input/audio-input.js';
import { asTaskError } from './ffmpeg/failures.js';
import { filterOptionValue, firstAudioTrack, progressTo, uploadRun } from './input/ffmpeg-args.js';
import { Ebur128SummaryParser, progressSeconds, runMarker, SilenceParser, type LoudnessSummary, type SilentSpan } from './analysis/filter-reports.js';
import { fileInput } from '../../media/untrusted-input.js';
import type { AudioToolkit } from './ffmpeg/toolkit.js';

export interface TrackAnalysisOptions {
  readonly silenceThresholdDb: number;
  readonly silenceMinSeconds: number;
}

export const defaultTrackAnalysisOptions: TrackAnalysisOptions = { silenceThresholdDb: -50, silenceMinSeconds: 0.5 };

/**
 * Analysis: analysis.json with the track's format facts (from ffprobe) and, from one decode, EBU R128
 * loudness (ebur128 with true peak) and silent spans (silencedetect, which runs first, at the source's
 * rate, since ebur128 resamples to 48 kHz). Each result is read from a channel the input cannot write to
 * (analysis/filter-reports.ts): tags are printed on stderr, so text there shaped like a filter's report is not one.
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
    const { loudness, durationSeconds, spans } = await this.measure(ctx, source);
    const info = source.info;
    const report: AudioAnalysisReport = {
      durationSeconds,
      sampleRate: info.sampleRate,
      channels: info.channels,
      channelLayout: info.channelLayout ?? null,
      codec: info.codec,
      container: info.formatName,
      bitRate: info.bitRate ?? null,
      loudness,
      silence: { thresholdDb: silenceThresholdDb, minDurationSeconds: silenceMinSeconds, spans },
    };
    const key = await ctx.store.putJson(jobKey(ctx.job.jobId, 'analysis.json'), report, ctx.signal);
    return { outputs: { 'analysis.json': key } };
  }

  /** One decode through silencedetect and ebur128; its scratch files are gone when this returns. */
  private async measure(ctx: TaskContext, source: AudioSource): Promise<{ loudness: LoudnessSummary; durationSeconds: number; spans: SilentSpan[] }> {
    const { silenceThresholdDb, silenceMinSeconds } = this.options;
    const marker = runMarker();
    const loudness = new Ebur128SummaryParser(marker);
    const silences = join(ctx.tmpDir, 'silence.txt');
    const progress = join(ctx.tmpDir, 'analysis.progress');
    const filters = [
      // Frame metadata from the input, if a demuxer attached any, must not reach the printout below.
      'ametadata=mode=delete',
      `silencedetect=noise=${silenceThresholdDb}dB:duration=${silenceMinSeconds}`,
      // Prints the frames silencedetect marked: its events and nothing else.
      `ametadata=mode=print:file=${filterOptionValue(fileInput(silences))}`,
      // framelog=verbose keeps the ten-per-second momentary readings out of an info-level log.
      `ebur128@${marker}=peak=true:framelog=verbose`,
    ];
    try {
      await this.kit.ffmpeg
        .run({
          what: 'loudness and silence',
          ...uploadRun(source, this.kit.limits, 'info'),
          outputArgs: [...progressTo(progress), ...firstAudioTrack(this.kit.limits), '-af', filters.join(','), '-f', 'null'],
          output: '-',
          signal: ctx.signal,
          onStderrLine: (line) => loudness.line(line),
        })
        .catch((err: unknown) => Promise.reject(asTaskError(err)));
      const summary = loudness.result();
      if (!summary) throw new Error('ffmpeg finished without printing the ebur128 summary');
      // The decoded length is exact; the container's may be an estimate (MP3 without an index).
      const decodedSeconds = progressSeconds(await readFile(progress, 'utf8'));
      const durationSeconds = decodedSeconds > 0 ? decodedSeconds : source.info.durationSeconds;
      const silence = new SilenceParser();
      // Two short lines per silence event: a few MB at most for the longest audio accepted.
      for (const line of (await readFile(silences, 'utf8')).split('\n')) silence.line(line);
      return { loudness: summary, durationSeconds, spans: silence.result(durationSeconds) };
    } finally {
      await Promise.all([rm(silences, { force: true }), rm(progress, { force: true })]);
    }
  }
}
