import type { RenditionName } from '../options.js';

export interface Rendition {
  readonly name: RenditionName;
  /** Encoder and muxer arguments (the input side is common to all). */
  readonly args: readonly string[];
  /** Single-file renditions: the file name under audio/. HLS: the directory under audio/, with index.m3u8 inside. */
  readonly output: { readonly kind: 'file'; readonly file: string; readonly contentType: string } | { readonly kind: 'hls'; readonly dir: string };
  /** Highest sample rate the codec takes; above it the audio is resampled. */
  readonly maxSampleRate: number;
}

/** Contract section 3: the fixed rendition names and what each one is. */
export const renditions: Record<RenditionName, Rendition> = {
  'mp3-192k': {
    name: 'mp3-192k',
    args: ['-c:a', 'libmp3lame', '-b:a', '192k', '-f', 'mp3'],
    output: { kind: 'file', file: 'mp3-192k.mp3', contentType: 'audio/mpeg' },
    maxSampleRate: 48000,
  },
  'mp3-128k': {
    name: 'mp3-128k',
    args: ['-c:a', 'libmp3lame', '-b:a', '128k', '-f', 'mp3'],
    output: { kind: 'file', file: 'mp3-128k.mp3', contentType: 'audio/mpeg' },
    maxSampleRate: 48000,
  },
  'aac-128k': {
    name: 'aac-128k',
    // faststart: the index goes first, so players can start before the whole file has arrived.
    args: ['-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart', '-f', 'ipod'],
    output: { kind: 'file', file: 'aac-128k.m4a', contentType: 'audio/mp4' },
    maxSampleRate: 48000,
  },
  'opus-96k': {
    name: 'opus-96k',
    // Opus runs at 48 kHz inside; libopus resamples what it is given.
    args: ['-c:a', 'libopus', '-b:a', '96k', '-f', 'ogg'],
    output: { kind: 'file', file: 'opus-96k.ogg', contentType: 'audio/ogg' },
    maxSampleRate: 48000,
  },
  'hls-aac-128k': {
    name: 'hls-aac-128k',
    args: ['-c:a', 'aac', '-b:a', '128k', '-f', 'hls', '-hls_time', '6', '-hls_playlist_type', 'vod', '-hls_list_size', '0'],
    output: { kind: 'hls', dir: 'hls-aac-128k' },
    maxSampleRate: 48000,
  },
};

/** Sample rate and channel arguments: stereo at most, and within the codec's range (same family: 88.2k → 44.1k). */
export function formatArgs(rendition: Rendition, sampleRate: number, channels: number): string[] {
  const args: string[] = [];
  if (channels > 2) args.push('-ac', '2');
  if (sampleRate > rendition.maxSampleRate) args.push('-ar', sampleRate % 44100 === 0 ? '44100' : '48000');
  return args;
}
