import { z } from 'zod';

/** One media segment as the variant playlist lists it. */
export const Segment = z.object({
  uri: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a plain file name in the variant directory'),
  durationSeconds: z.number().positive().finite(),
});
export type Segment = z.infer<typeof Segment>;

/** What this task takes from ffmpeg's variant playlist: its init section and segments, and that it is complete. */
export const MediaPlaylist = z.object({
  map: Segment.shape.uri,
  segments: z.array(Segment).min(1),
  ended: z.literal(true),
});
export type MediaPlaylist = z.infer<typeof MediaPlaylist>;

/**
 * Reads the playlist ffmpeg's hls muxer wrote (fMP4, VOD). Only the tags this task rewrites are kept;
 * a playlist without an init section, without segments or without EXT-X-ENDLIST is refused.
 */
export function parseMediaPlaylist(text: string): MediaPlaylist {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines[0] !== '#EXTM3U') throw new Error('not an HLS playlist');
  let map: string | undefined;
  let ended = false;
  let pending: number | undefined;
  const segments: { uri: string; durationSeconds: number }[] = [];
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const mapped = /^#EXT-X-MAP:URI="([^"]+)"/.exec(line);
    const inf = /^#EXTINF:([0-9.]+),/.exec(line);
    if (mapped) map = mapped[1];
    else if (inf) pending = Number(inf[1]);
    else if (line === '#EXT-X-ENDLIST') ended = true;
    else if (!line.startsWith('#')) {
      if (pending === undefined) throw new Error(`segment ${line} has no EXTINF`);
      segments.push({ uri: line, durationSeconds: pending });
      pending = undefined;
    }
  }
  return MediaPlaylist.parse({ map, segments, ended });
}

/**
 * A variant playlist written by us rather than as ffmpeg left it: EXT-X-TARGETDURATION is the longest
 * segment rounded up (RFC 8216 4.3.3.1 asks ≥ each EXTINF rounded to the nearest integer; some ffmpeg
 * versions round it down), and every segment is declared independent (each starts with a keyframe).
 */
export function writeMediaPlaylist(playlist: MediaPlaylist): string {
  const target = Math.max(...playlist.segments.map((s) => Math.ceil(s.durationSeconds - 1e-6)));
  return [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${target}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-MAP:URI="${playlist.map}"`,
    ...playlist.segments.flatMap((s) => [`#EXTINF:${s.durationSeconds.toFixed(6)},`, s.uri]),
    '#EXT-X-ENDLIST',
    '',
  ].join('\n');
}

export interface Bandwidth {
  /** bit/s: the highest bit rate of a segment. */
  readonly peak: number;
  /** bit/s: every segment's bits over the whole duration. */
  readonly average: number;
}

/**
 * BANDWIDTH and AVERAGE-BANDWIDTH from the segments as produced (sizes in bytes, init section excluded).
 * A last segment shorter than half a segment is measured together with the one before it: a lone
 * trailing keyframe over a few milliseconds would otherwise claim a peak many times the real one, and
 * players would shun the variant.
 */
export function measureBandwidth(segments: readonly { bytes: number; durationSeconds: number }[], segmentSeconds: number): Bandwidth {
  if (segments.length === 0) throw new Error('no segments to measure');
  const windows = segments.map((s) => ({ ...s }));
  const last = windows.at(-1) as { bytes: number; durationSeconds: number };
  if (windows.length > 1 && last.durationSeconds < segmentSeconds / 2) {
    windows.pop();
    const before = windows.at(-1) as { bytes: number; durationSeconds: number };
    before.bytes += last.bytes;
    before.durationSeconds += last.durationSeconds;
  }
  const bits = segments.reduce((sum, s) => sum + s.bytes * 8, 0);
  const seconds = segments.reduce((sum, s) => sum + s.durationSeconds, 0);
  const average = Math.ceil(bits / seconds);
  const peak = Math.max(average, ...windows.map((w) => Math.ceil((w.bytes * 8) / w.durationSeconds)));
  return { peak, average };
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/**
 * The RFC 6381 name of the H.264 stream in an fMP4 init section, `avc1.PPCCLL`: profile, constraint
 * flags and level as the encoder wrote them into the avcC box (what a player checks against its decoder).
 */
export function avcCodecOf(init: Buffer): string {
  const at = init.indexOf('avcC', 0, 'latin1');
  if (at < 0 || at + 8 > init.length) throw new Error('no avcC box in the init section');
  const version = init[at + 4];
  if (version !== 1) throw new Error(`avcC version ${String(version)}`);
  return `avc1.${hex2(init[at + 5] as number)}${hex2(init[at + 6] as number)}${hex2(init[at + 7] as number)}`;
}

/** AAC-LC, the profile ffmpeg's aac encoder writes by default. */
export const aacLowComplexity = 'mp4a.40.2';

export const MasterVariant = z.object({
  /** The variant playlist's path relative to the master (`360p/index.m3u8`). */
  uri: z.string().regex(/^[A-Za-z0-9_-]+\/[A-Za-z0-9_.-]+$/),
  bandwidth: z.number().int().positive(),
  averageBandwidth: z.number().int().positive(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  codecs: z.array(z.string().regex(/^[a-z0-9]+(\.[A-Za-z0-9]+)+$/)).min(1),
  frameRate: z.number().positive(),
});
export type MasterVariant = z.infer<typeof MasterVariant>;

/**
 * The master playlist: one EXT-X-STREAM-INF per variant, in the order given (the ladder's: tallest
 * first, which is also the highest bandwidth first; players choose by bandwidth whatever the order).
 * VERSION 7 as the fMP4 variants need; every segment of every variant starts with a keyframe.
 */
export function writeMasterPlaylist(variants: readonly MasterVariant[]): string {
  if (variants.length === 0) throw new Error('a master playlist needs a variant');
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const input of variants) {
    const v = MasterVariant.parse(input);
    lines.push(
      `#EXT-X-STREAM-INF:BANDWIDTH=${v.bandwidth},AVERAGE-BANDWIDTH=${v.averageBandwidth},RESOLUTION=${v.width}x${v.height},CODECS="${v.codecs.join(',')}",FRAME-RATE=${v.frameRate.toFixed(3)}`,
      v.uri,
    );
  }
  return `${lines.join('\n')}\n`;
}
