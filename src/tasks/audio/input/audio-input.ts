import { open, stat } from 'node:fs/promises';
import { BadInputError } from '../../../contract/errors.js';
import type { TaskContext } from '../../../pipeline/task.js';
import { asTaskError } from '../ffmpeg/failures.js';
import { FfmpegExitError } from '../../../media/ffmpeg.js';
import type { ProbeOutput } from '../../../media/ffprobe.js';
import { audioContainersForHumans, type AudioLimits } from '../ffmpeg/input-policy.js';
import type { AudioToolkit } from '../ffmpeg/toolkit.js';
import { readWavHeader, type WavHeader } from './wav-header.js';

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
  /** Set when the upload is a RIFF/WAVE file. */
  readonly wav?: WavHeader;
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;
const minutes = (s: number) => (s < 120 ? `${Math.round(s)} seconds` : `${Math.round(s / 60)} minutes`);

/**
 * Checks the upload's size before downloading it, downloads it (once per stage, shared by the tasks),
 * checks a WAV's header, probes it and refuses what the audio tasks must not or cannot process, each
 * with its own code: sample rate, channels and length are judged before anything decodes the audio.
 * Every task starts here, so a redelivered analysis message is held to the same rules as validation.
 */
export async function openAudioInput(ctx: TaskContext, kit: AudioToolkit): Promise<AudioSource> {
  const { limits } = kit;
  const head = await ctx.store.head(ctx.job.input, ctx.signal);
  checkSize(head.size, limits.maxBytes);
  const path = await ctx.inputFile();
  const sizeBytes = (await stat(path)).size;
  checkSize(sizeBytes, limits.maxBytes);
  // Before ffprobe, which itself decodes a little to fill in what the header leaves out.
  const wav = await readWavHeader(path);
  if (wav?.format) checkFormat(wav.format, limits);

  let probed;
  try {
    probed = await kit.prober.probe(path, ctx.signal);
  } catch (err) {
    throw err instanceof FfmpegExitError ? probeFailure(err, await startsLikeMp4(path)) : asTaskError(err);
  }
  const info = describe(probed.report, probed.durationEstimated, sizeBytes);
  checkFormat(info, limits);
  if (info.durationSeconds > limits.maxDurationSeconds) throw tooLong(limits, info.durationSeconds);
  return { path, info, ...(wav ? { wav } : {}) };
}

/**
 * Over the length limit: `seconds` from the probe, or undefined when the decode ran past the limit (and
 * was stopped there, so the true length is unknown).
 */
export function tooLong(limits: AudioLimits, seconds?: number): BadInputError {
  const length = seconds === undefined ? 'longer than the limit (it decodes past it, whatever its header says)' : `${minutes(seconds)} long`;
  return new BadInputError('AUDIO_TOO_LONG', `The audio is ${length}; the limit is ${minutes(limits.maxDurationSeconds)}. Split it into shorter files and submit each.`);
}

function checkFormat(format: { readonly sampleRate: number; readonly channels: number }, limits: AudioLimits): void {
  const { minSampleRate, maxSampleRate, maxChannels } = limits;
  if (format.sampleRate < minSampleRate || format.sampleRate > maxSampleRate) {
    throw new BadInputError(
      'AUDIO_SAMPLE_RATE',
      `The audio's sample rate is ${format.sampleRate} Hz; this service takes ${minSampleRate} to ${maxSampleRate} Hz. Resample it (44.1 or 48 kHz suit any use) and upload it again.`,
    );
  }
  if (format.channels > maxChannels) {
    throw new BadInputError(
      'AUDIO_TOO_MANY_CHANNELS',
      `The audio has ${format.channels} channels; the limit is ${maxChannels}. Mix it down (e.g. to stereo or 5.1) and upload it again.`,
    );
  }
}

function checkSize(size: number, max: number): void {
  if (size === 0) throw new BadInputError('AUDIO_EMPTY', 'The uploaded file is empty (0 bytes). Upload the audio file again; the upload may have failed.');
  if (size > max) throw new BadInputError('AUDIO_TOO_LARGE', `The upload is ${mb(size)}; the limit is ${mb(max)}. Compress it (e.g. FLAC or MP3) or split it, then submit again.`);
}

/** An MP4 file starts with one of these boxes, even when cut short. */
const mp4Boxes = new Set(['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide', 'pnot']);

async function startsLikeMp4(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(8), 0, 8, 0);
    return bytesRead === 8 && mp4Boxes.has(buffer.toString('latin1', 4, 8));
  } finally {
    await file.close();
  }
}

/** ffprobe refused or could not read the file: say why in words, never echo what ffmpeg printed. */
function probeFailure(err: FfmpegExitError, mp4: boolean): BadInputError {
  const said = err.stderrTail;
  if (/not on whitelist/i.test(said)) {
    return new BadInputError(
      'AUDIO_UNSUPPORTED_FORMAT',
      `The upload is not an audio container this service reads (it looks like a playlist, script, video or text file). Upload one of: ${audioContainersForHumans}.`,
      { cause: err },
    );
  }
  const unrecognised = () =>
    new BadInputError(
      'AUDIO_UNSUPPORTED_FORMAT',
      `The upload is not in a recognised audio format (or is damaged beyond recognition). Upload one of: ${audioContainersForHumans}.`,
      { cause: err },
    );
  if (/moov atom not found/i.test(said)) {
    // Newer ffprobe builds take any file named .m4a for MP4 and then miss its index: only one that starts like MP4 was cut short.
    if (!mp4) return unrecognised();
    return new BadInputError('AUDIO_TRUNCATED', 'The MP4/M4A file is incomplete (its index is missing, usually because the upload or the export stopped early). Export or upload it again.', { cause: err });
  }
  // Newer ffprobe builds (the npm-bundled one) no longer take a playlist named .mp3 for HLS: they guess
  // a demuxer at the lowest score, read nothing from it and fail. Text guessed as audio is not audio.
  if (/Invalid data found when processing input|misdetection possible/i.test(said)) return unrecognised();
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
