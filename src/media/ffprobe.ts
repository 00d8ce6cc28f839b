import { spawn } from 'node:child_process';
import { z } from 'zod';
import { TransientError } from '../contract/errors.js';
import { FfmpegExitError } from './ffmpeg.js';
import { guardProcess } from './process-guard.js';
import { fileInput } from './untrusted-input.js';
import { diedOfSignal } from './tool-errors.js';

const numeric = z.coerce.number().finite();

/** The parts of `ffprobe -print_format json -show_format -show_streams` the audio tasks use. */
export const ProbeStream = z.looseObject({
  index: z.number().int(),
  codec_type: z.string().optional(),
  codec_name: z.string().optional(),
  sample_rate: numeric.optional(),
  channels: z.number().int().optional(),
  channel_layout: z.string().optional(),
  bit_rate: numeric.optional(),
  duration: numeric.optional(),
});
export const ProbeOutput = z.looseObject({
  streams: z.array(ProbeStream).default([]),
  format: z.looseObject({
    format_name: z.string(),
    duration: numeric.optional(),
    bit_rate: numeric.optional(),
    size: numeric.optional(),
  }),
});
export type ProbeOutput = z.infer<typeof ProbeOutput>;

export interface ProbeResult {
  readonly report: ProbeOutput;
  /** ffprobe guessed the duration from the bit rate (MP3/AAC without an index): it may be far off. */
  readonly durationEstimated: boolean;
}

export interface MediaProber {
  probe(path: string, signal: AbortSignal): Promise<ProbeResult>;
}

const maxReport = 1024 * 1024;

/**
 * ffprobe run directly, not through fluent-ffmpeg (whose ffprobe has no timeout): JSON output, the same
 * input restrictions as every ffmpeg run, a wall-clock limit and abort with SIGTERM → SIGKILL.
 */
export class FfprobeProber implements MediaProber {
  constructor(
    private readonly ffprobePath: string,
    /** The kind's input restrictions (untrustedInputArgs), the same as its ffmpeg runs'. */
    private readonly inputArgs: readonly string[],
    private readonly timeoutMs: number,
    private readonly killGraceMs = 3000,
  ) {}

  async probe(path: string, signal: AbortSignal): Promise<ProbeResult> {
    const what = 'ffprobe';
    const child = spawn(
      this.ffprobePath,
      ['-v', 'warning', ...this.inputArgs, '-print_format', 'json', '-show_format', '-show_streams', fileInput(path)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const guard = guardProcess({ what, timeoutMs: this.timeoutMs, killGraceMs: this.killGraceMs, signal, kill: (s) => child.kill(s) });
    let stdout = '';
    let stderr = '';
    let oversized = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.length > maxReport && !oversized) {
        oversized = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    const [code, killedBy] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.on('error', (err) => reject(new TransientError(`could not run ffprobe: ${err.message}`, { cause: err })));
      child.on('close', (c, s) => resolve([c, s]));
    }).finally(() => guard.release());
    if (guard.stopReason) throw guard.stopReason;
    if (oversized) throw new FfmpegExitError(what, code, `report larger than ${maxReport} bytes`);
    if (killedBy) throw diedOfSignal(what, 'ffprobe', killedBy);
    if (code !== 0) throw new FfmpegExitError(what, code, stderr.trim());
    return { report: ProbeOutput.parse(JSON.parse(stdout)), durationEstimated: /Estimating duration from bitrate/.test(stderr) };
  }
}
