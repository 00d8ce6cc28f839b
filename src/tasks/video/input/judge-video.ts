import { BadInputError } from '../../../contract/errors.js';
import { isAllowedContainer, videoContainersForHumans } from '../ffmpeg/demuxers.js';
import type { VideoLimits } from '../ffmpeg/toolkit.js';
import type { VideoProbeReport, VideoProbeStream } from './probe-report.js';
import { VideoInfo, type AudioTrackInfo, type VideoStreamInfo } from './video-info.js';

/** The limits judgeVideo applies (VideoLimits without the time budgets). */
export type ContentLimits = Pick<VideoLimits, 'maxDurationSeconds' | 'maxPixels' | 'maxFrameRate' | 'maxFrames'>;

const hdrTransfers = new Set(['smpte2084', 'arib-std-b67']);
/** ISO 639 codes and BCP 47 tags: a language tag is the only tag reported, and only if it is one. */
const languageTag = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$/;

const seconds = (s: number) => (s < 120 ? `${Math.round(s * 10) / 10} seconds` : `${Math.round(s / 60)} minutes`);
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * What the upload is, from ffprobe's report, and whether the video tasks may process it: the container
 * is an allowed one, there is a video stream (not just cover art), and its length, picture size, frame
 * rate and frame count are within the limits, each refused with its own code. Pure, so that every
 * verdict can be tested from a report.
 */
export function judgeVideo(report: VideoProbeReport, sizeBytes: number, limits: ContentLimits): VideoInfo {
  const info = describeVideo(report, sizeBytes);
  const refusal = limitRefusal(info, limits);
  if (refusal) throw refusal;
  return info;
}

export function describeVideo(report: VideoProbeReport, sizeBytes: number): VideoInfo {
  if (!isAllowedContainer(report.format.format_name)) {
    throw new BadInputError('VIDEO_UNSUPPORTED_CONTAINER', `The upload is not in a video container this service reads. Upload one of: ${videoContainersForHumans}.`);
  }
  const stream = report.streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  if (!stream) {
    throw new BadInputError(
      'VIDEO_NO_VIDEO',
      'The file has no video track (only sound, or a still cover picture). Upload a file with video in it, or submit it as an audio job.',
    );
  }
  const durationSeconds = report.format.duration ?? stream.duration;
  if (!(durationSeconds !== undefined && durationSeconds > 0)) {
    throw new BadInputError('VIDEO_CORRUPT', 'The length of the video cannot be read: the file appears to be damaged or was not finished. Export it again from the source and upload the new file.');
  }
  const video = describeStream(stream, durationSeconds);
  const audio = report.streams.filter((s) => s.codec_type === 'audio' && s.codec_name).map(describeAudio);
  return VideoInfo.parse({
    container: report.format.format_name,
    durationSeconds: round(durationSeconds),
    sizeBytes,
    ...(report.format.bit_rate ? { bitRate: report.format.bit_rate } : {}),
    video,
    audio,
  });
}

/** The first limit the video is over, as the error to fail the job with; undefined when it is within all. */
export function limitRefusal(info: VideoInfo, limits: ContentLimits): BadInputError | undefined {
  const { durationSeconds, video } = info;
  if (durationSeconds > limits.maxDurationSeconds) {
    return new BadInputError(
      'VIDEO_TOO_LONG',
      `The video is ${seconds(durationSeconds)} long; the limit is ${seconds(limits.maxDurationSeconds)} (VIDEO_MAX_DURATION_SECONDS). Trim it or split it into shorter videos and submit each.`,
    );
  }
  const pixels = video.width * video.height;
  if (pixels > limits.maxPixels) {
    return new BadInputError(
      'VIDEO_TOO_LARGE',
      `The picture is ${video.width}×${video.height} (${pixels} pixels); the limit is ${limits.maxPixels} pixels (VIDEO_MAX_PIXELS). Scale it down (e.g. to 3840×2160 or 1920×1080) and upload it again.`,
    );
  }
  if (video.frameRate > limits.maxFrameRate) {
    return new BadInputError(
      'VIDEO_FRAME_RATE',
      `The video runs at ${round(video.frameRate, 2)} frames per second; the limit is ${limits.maxFrameRate} (VIDEO_MAX_FRAME_RATE). Convert it to a lower rate (e.g. 30 or 60 fps) and upload it again.`,
    );
  }
  if (video.frames > limits.maxFrames) {
    return new BadInputError(
      'VIDEO_TOO_MANY_FRAMES',
      `The video has ${video.frames} frames; the limit is ${limits.maxFrames} (VIDEO_MAX_FRAMES). Trim it, split it or lower its frame rate, then upload it again.`,
    );
  }
  return undefined;
}

function describeStream(s: VideoProbeStream, durationSeconds: number): VideoStreamInfo {
  const codedWidth = positive(s.width) ?? positive(s.coded_width);
  const codedHeight = positive(s.height) ?? positive(s.coded_height);
  // avg_frame_rate is the true mean; r_frame_rate a guess at the base rate (it reads e.g. 90000 for some variable-rate streams).
  const frameRate = rate(s.avg_frame_rate) ?? rate(s.r_frame_rate);
  if (!s.codec_name || !codedWidth || !codedHeight || !frameRate) {
    throw new BadInputError('VIDEO_CORRUPT', 'The video track has no readable codec, picture size or frame rate: the file appears to be damaged. Export it again and upload the new file.');
  }
  const rotation = clockwiseRotation(s);
  const sar = aspect(s.sample_aspect_ratio);
  const squareWidth = Math.max(1, Math.round(codedWidth * sar));
  const turned = rotation === 90 || rotation === 270;
  const frames = positive(s.nb_frames) ?? Math.round(durationSeconds * frameRate);
  return {
    index: s.index,
    codec: s.codec_name,
    ...(s.profile ? { profile: s.profile } : {}),
    ...(s.pix_fmt ? { pixelFormat: s.pix_fmt } : {}),
    codedWidth,
    codedHeight,
    width: turned ? codedHeight : squareWidth,
    height: turned ? squareWidth : codedHeight,
    frameRate: round(frameRate),
    rotation,
    hdr: { ...(s.color_transfer ? { transfer: s.color_transfer } : {}), isHdr: hdrTransfers.has(s.color_transfer ?? '') },
    frames: Math.round(frames),
    ...(s.bit_rate ? { bitRate: s.bit_rate } : {}),
  };
}

function describeAudio(s: VideoProbeStream): AudioTrackInfo {
  const language = s.tags?.language;
  return {
    index: s.index,
    codec: s.codec_name ?? '',
    ...(s.sample_rate ? { sampleRate: s.sample_rate } : {}),
    ...(s.channels ? { channels: s.channels } : {}),
    ...(s.channel_layout ? { channelLayout: s.channel_layout } : {}),
    ...(s.bit_rate ? { bitRate: s.bit_rate } : {}),
    ...(language && language !== 'und' && languageTag.test(language) ? { language } : {}),
  };
}

/**
 * Clockwise degrees, 0/90/180/270. The display matrix's `rotation` (ffprobe 5.x and later) is
 * counter-clockwise: a file tagged `rotate=90` by ffmpeg's muxer reads back as rotation 90 and ffmpeg
 * itself turns it counter-clockwise (measured with both builds), i.e. 270 clockwise. The older `rotate`
 * tag is clockwise already.
 */
export function clockwiseRotation(s: Pick<VideoProbeStream, 'side_data_list' | 'tags'>): 0 | 90 | 180 | 270 {
  const matrix = s.side_data_list?.find((d) => d.rotation !== undefined)?.rotation;
  const degrees = matrix !== undefined ? -matrix : (s.tags?.rotate ?? 0);
  const quarter = ((Math.round(degrees / 90) % 4) + 4) % 4;
  return ([0, 90, 180, 270] as const)[quarter] ?? 0;
}

/** `30000/1001` → 29.97; `0/0` and nonsense → undefined. */
export function rate(fraction: string | undefined): number | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(fraction ?? '');
  if (!m) return undefined;
  const value = Number(m[1]) / Number(m[2]);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** `16:15` → 1.0667; absent or `0:1` (unknown) → square pixels. */
function aspect(sar: string | undefined): number {
  const m = /^(\d+):(\d+)$/.exec(sar ?? '');
  const value = m ? Number(m[1]) / Number(m[2]) : 1;
  return Number.isFinite(value) && value > 0 ? value : 1;
}

const positive = (n: number | undefined) => (n !== undefined && n > 0 ? n : undefined);
