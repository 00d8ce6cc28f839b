import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jobKey } from '../../contract/job-keys.js';
import type { Task, TaskContext, TaskResult } from '../../pipeline/task.js';
import { openAudioInput, type AudioSource } from './input/audio-input.js';
import { firstAudioTrack, uploadRun } from './input/ffmpeg-args.js';
import { asTaskError } from './ffmpeg/failures.js';
import { fileInput } from '../../media/untrusted-input.js';
import { PeakWriter, type Peaks } from './waveform/peaks.js';
import type { AudioToolkit } from './ffmpeg/toolkit.js';
import { peaksAsPcm, waveformDat, waveformJsonStream } from './waveform/waveform-format.js';

/**
 * The decoder's packets are a few KiB, and ffmpeg flushes the pipe after each: Node then wakes ~10,000
 * times for 10 minutes of stereo and the pipe, not the decode, sets the pace. Frames of 65536 samples
 * (the last one left short: `p=0`, padding would add silent frames to the last pixel) without a flush
 * per packet cut that to ~2,500 full 64 KiB reads (measured: decode + peaks 0.30 s → 0.25 s, bare
 * decode 0.18 s; BENCHMARKS.md).
 */
const pipeInLargeWrites = ['-af', 'asetnsamples=n=65536:p=0', '-flush_packets', '0'];

export interface WaveformOptions {
  readonly samplesPerPixel: number;
  readonly image: { readonly width: number; readonly height: number; readonly color: string };
}

export const defaultWaveformOptions: WaveformOptions = {
  samplesPerPixel: 256,
  image: { width: 1800, height: 280, color: '0x2563eb' },
};

/**
 * Analysis: waveform.json and waveform.dat (audiowaveform formats, 8-bit, one entry per channel, more
 * than two channels mixed down to stereo) from one streaming pass over decoded PCM, and waveform.png
 * drawn by ffmpeg from those peaks.
 */
export class WaveformTask implements Task {
  readonly name = 'audio-waveform';

  constructor(
    private readonly kit: AudioToolkit,
    private readonly options: WaveformOptions = defaultWaveformOptions,
  ) {}

  async run(ctx: TaskContext): Promise<TaskResult> {
    const source = await openAudioInput(ctx, this.kit);
    const peaks = await this.computePeaks(ctx, source).catch((err: unknown) => Promise.reject(asTaskError(err)));
    const { store, job, signal } = ctx;
    const [json, dat, png] = await Promise.all([
      store.upload(jobKey(job.jobId, 'waveform.json'), waveformJsonStream(peaks), 'application/json', signal),
      store.upload(jobKey(job.jobId, 'waveform.dat'), waveformDat(peaks), 'application/octet-stream', signal),
      this.renderPng(ctx, peaks, source).then((file) => store.upload(jobKey(job.jobId, 'waveform.png'), file, 'image/png', signal)),
    ]);
    return { outputs: { 'waveform.json': json, 'waveform.dat': dat, 'waveform.png': png } };
  }

  computePeaks(ctx: TaskContext, source: AudioSource): Promise<Peaks> {
    const channels = source.info.channels === 1 ? 1 : 2;
    const { sampleRate, durationSeconds } = source.info;
    const writer = new PeakWriter(channels, sampleRate, this.options.samplesPerPixel, Math.ceil(durationSeconds * sampleRate));
    return this.kit.ffmpeg
      .run({
        what: 'waveform decode',
        ...uploadRun(source, this.kit.limits, 'error'),
        // The source's own rate: peaks are per 256 of its samples, as audiowaveform counts them.
        outputArgs: [...firstAudioTrack(this.kit.limits), '-ac', String(channels), ...pipeInLargeWrites, '-c:a', 'pcm_s16le', '-f', 's16le'],
        output: writer,
        signal: ctx.signal,
      })
      .then(() => writer.peaks());
  }

  /** Draws the peaks (a few MB at most), not the audio: bounded memory for any length of upload. */
  private async renderPng(ctx: TaskContext, peaks: Peaks, source: AudioSource): Promise<Buffer> {
    const raw = join(ctx.tmpDir, 'peaks.s8');
    const png = join(ctx.tmpDir, 'waveform.png');
    const { width, height, color } = this.options.image;
    try {
      await writeFile(raw, peaksAsPcm(peaks, width), { mode: 0o600 });
      await this.kit.ffmpeg
        .run({
          what: 'waveform image',
          inputArgs: ['-nostdin', '-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'file', '-f', 's8', '-ar', '8000', '-ac', String(peaks.channels)],
          input: fileInput(raw),
          outputArgs: [
            '-filter_complex', `showwavespic=s=${width}x${height}:split_channels=1:colors=${color}`,
            '-frames:v', '1', '-update', '1', '-c:v', 'png', '-f', 'image2',
          ],
          output: png,
          timeoutMs: this.kit.limits.runTimeoutMs(Math.min(60, source.info.durationSeconds)),
          signal: ctx.signal,
        })
        .catch((err: unknown) => Promise.reject(asTaskError(err)));
      return await readFile(png);
    } finally {
      await Promise.all([rm(raw, { force: true }), rm(png, { force: true })]);
    }
  }
}
