/**
 * How untrusted uploads are handed to ffmpeg and ffprobe. The upload is always a private local file
 * (never a URL), read through the `file` protocol only, and only by demuxers of real audio containers:
 * playlist and script demuxers (hls, concat, ffmetadata, image2, tty, subtitles…) can make ffmpeg read
 * other local files into its output, so a file that probes as one of them is refused, whatever its name.
 */

/** Demuxer names (ffmpeg matches any name of a demuxer such as `mov,mp4,m4a,3gp,3g2,mj2`). */
export const audioDemuxers = [
  'wav', 'w64', 'aiff', 'caf', 'mp3', 'aac', 'flac', 'ogg', 'mov', 'matroska',
  'ac3', 'eac3', 'amr', 'ape', 'wv', 'au', 'tta', 'dts',
] as const;

export const audioContainersForHumans = 'WAV, AIFF, CAF, MP3, AAC, FLAC, Ogg (Vorbis/Opus), M4A/MP4, Matroska/WebM, AC-3, AMR, APE, WavPack, AU, TTA, DTS';

/** Options placed before `-i` for every run that reads an upload. Never `-safe 0`, never a network protocol. */
export const untrustedInputArgs: readonly string[] = [
  '-protocol_whitelist', 'file',
  '-format_whitelist', audioDemuxers.join(','),
];

/** The path as an explicit file URL, so no part of a name is ever read as a protocol or an option. */
export const fileInput = (path: string) => `file:${path}`;

export interface AudioLimits {
  /** Largest upload accepted, checked before it is downloaded. */
  readonly maxBytes: number;
  /** Longest audio accepted; every ffmpeg run also stops reading there (-t). */
  readonly maxDurationSeconds: number;
  readonly probeTimeoutMs: number;
  /** Wall-clock budget of one ffmpeg run over audio of this length. */
  runTimeoutMs(durationSeconds: number): number;
}

export const defaultAudioLimits: AudioLimits = {
  maxBytes: 4 * 1024 ** 3,
  maxDurationSeconds: 3 * 3600,
  probeTimeoutMs: 30_000,
  // Encoding runs at 30-100× real time on one core; a tenth of real time plus a minute leaves room for a
  // busy machine and still stops a runaway process within minutes.
  runTimeoutMs: (durationSeconds) => 60_000 + Math.ceil(durationSeconds * 100),
};
