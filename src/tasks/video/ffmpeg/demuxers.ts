import { untrustedInputArgs } from '../../../media/untrusted-input.js';

/**
 * The demuxers a video upload is read with, and no other (src/media/untrusted-input.ts): MP4/MOV,
 * Matroska/WebM and MPEG-TS. ffmpeg matches any name of a demuxer, so `mov` admits
 * `mov,mp4,m4a,3gp,3g2,mj2` and `matroska` admits `matroska,webm`. Playlists (hls, concat), image
 * sequences and the like are refused whatever the file is called.
 */
export const videoDemuxers = ['mov', 'matroska', 'mpegts'] as const;

export const videoContainersForHumans = 'MP4, MOV, Matroska (MKV), WebM or MPEG-TS';

/** Options before `-i` for every run over an uploaded file. */
export const videoInputArgs = untrustedInputArgs(videoDemuxers);

/** The same, for the upload streamed into ffprobe's stdin (kind confirmation at ingestion). */
export const videoStdinArgs = untrustedInputArgs(videoDemuxers, ['pipe']);

/** Whether ffprobe's format_name (e.g. `mov,mp4,m4a,3gp,3g2,mj2`) is one of the allowed demuxers. */
export function isAllowedContainer(formatName: string): boolean {
  const names = formatName.split(',');
  return videoDemuxers.some((d) => names.includes(d));
}
