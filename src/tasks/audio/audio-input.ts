import { stat } from 'node:fs/promises';
import { BadInputError } from '../../errors.js';
import type { TaskContext } from '../task.js';
import { FfmpegExitError } from './ffmpeg.js';
import type { ProbeOutput } from './ffprobe.js';
import { audioContainersForHumans } from './input-policy.js';
import type { AudioToolkit } from './toolkit.js';

/** The facts about an accepted upload that every audio task needs. */
export interface AudioInfo {
  readonly formatName: string;
  readonly codec: string;
  readonly sampleRate: number;
  readonly channels: number;
  readonly channelLayout?: string;
  readonly durationSeconds: number;
  /** True when the container gives no exact length and ffprobe estimated it from the bit rate. */
  readonly durationEstimated: boolean;
  readonly bitRate?: number;
  readonly sizeBytes: number;
}

export interface AudioSource {
  /** The private local copy of the upload. */
  readonly path: string;
  readonly info: AudioInfo;
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;
const minutes = (s: number) => `${Math.round(s / 60)} minutes`;

/**
 * Checks the upload's size before downloading it, downloads it (once per stage, shared by the tasks),
 * probes it and refuses what the audio tasks must not or cannot process, each with its own code.
 * Every task starts here, so a redelivered analysis message is held to the same rules as validation.
 */
export async function openAudioInput(ctx: TaskContext, kit: AudioToolkit): Promise<AudioSource> {
  const { limits } = kit;
  const head = await ctx.store.head(ctx.job.input, ctx.signal);
  checkSize(head.size, limits.maxBytes);
  const path = await ctx.inputFile();
  const sizeBytes = (await stat(path)).size;
  checkSize(sizeBytes, limits.maxBytes);

  let probed;
  try {
    probed = await kit.prober.probe(path, ctx.signal);
  } catch (err) {
    if (err instanceof FfmpegExitError) throw probeFailure(err);
    throw err;
  }
  const info = describe(probed.report, probed.durationEstimated, sizeBytes);
  if (info.durationSeconds > limits.maxDurationSeconds) {
    throw new BadInputError(
      'AUDIO_TOO_LONG',
      `The audio is ${minutes(info.durationSeconds)} long; the limit is ${minutes(limits.maxDurationSeconds)}. Split it into shorter files and submit each.`,
    );
  }
  return { path, info };
}

function checkSize(size: number, max: number): void {
  if (size === 0) throw new BadInputError('AUDIO_EMPTY', 'The uploaded file is empty (0 bytes). Upload the audio file again; the upload may have failed.');
  if (size > max) throw new BadInputError('AUDIO_TOO_LARGE', `The upload is ${mb(size)}; the limit is ${mb(max)}. Compress it (e.g. FLAC or MP3) or split it, then submit again.`);
}

/** ffprobe refused or could not read the file: say why in words, never echo what ffmpeg printed. */
function probeFailure(err: FfmpegExitError): BadInputError {
  const said = err.stderrTail;
  if (/not on whitelist/i.test(said)) {
    return new BadInputError(
      'AUDIO_UNSUPPORTED_FORMAT',
      `The upload is not an audio container this service reads (it looks like a playlist, script, video or text file). Upload one of: ${audioContainersForHumans}.`,
      { cause: err },
    );
  }
  if (/moov atom not found/i.test(said)) {
    return new BadInputError('AUDIO_TRUNCATED', 'The MP4/M4A file is incomplete (its index is missing, usually because the upload or the export stopped early). Export or upload it again.', { cause: err });
  }
  // Newer ffprobe builds (the npm-bundled one) no longer take a playlist named .mp3 for HLS: they guess
  // a demuxer at the lowest score, read nothing from it and fail. Text guessed as audio is not audio.
  if (/Invalid data found when processing input|misdetection possible/i.test(said)) {
    return new BadInputError(
      'AUDIO_UNSUPPORTED_FORMAT',
      `The upload is not in a recognised audio format (or is damaged beyond recognition). Upload one of: ${audioContainersForHumans}.`,
      { cause: err },
    );
  }
  return new BadInputError('AUDIO_CORRUPT', 'The audio file could not be read: it appears to be damaged. Export it again from the source and upload the new file.', { cause: err });
}

function describe(report: ProbeOutput, durationEstimated: boolean, sizeBytes: number): AudioInfo {
  const stream = report.streams.find((s) => s.codec_type === 'audio');
  if (!stream) {
    throw new BadInputError('AUDIO_NO_AUDIO_STREAM', 'The file has no audio track (it may be a video without sound or an image). Upload a file that contains audio.');
  }
  if (!stream.codec_name || !stream.sample_rate || !stream.channels) {
    throw new BadInputError('AUDIO_CORRUPT', 'The audio track has no readable codec, sample rate or channel count: the file appears to be damaged. Export it again and upload the new file.');
  }
  const durationSeconds = stream.duration ?? report.format.duration ?? 0;
  if (!(durationSeconds > 0)) {
    throw new BadInputError('AUDIO_EMPTY', 'The audio track contains no sound (its length is zero). Upload a file with audio in it.');
  }
  const bitRate = stream.bit_rate ?? report.format.bit_rate;
  return {
    formatName: report.format.format_name,
    codec: stream.codec_name,
    sampleRate: stream.sample_rate,
    channels: stream.channels,
    ...(stream.channel_layout ? { channelLayout: stream.channel_layout } : {}),
    durationSeconds,
    durationEstimated,
    ...(bitRate ? { bitRate } : {}),
    sizeBytes,
  };
}
