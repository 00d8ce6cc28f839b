import { rungNames, type RungName } from '../options.js';

/** HLS segment length in seconds: the GOP, the forced keyframes and the muxer's cut all follow it. */
export const segmentSeconds = 4;

export interface RungSpec {
  /** The rung's height: the shorter displayed side of its picture (see selectRungs). */
  readonly height: number;
  /** x264's rate cap (-maxrate) in kbit/s; the VBV buffer is twice this (-bufsize). */
  readonly maxrateKbps: number;
  /** main for the small rungs (the oldest and cheapest decoders play them), high above. */
  readonly profile: 'high' | 'main';
}

/**
 * The ladder (contract section 3), tallest first. Rates are caps on a constant-quality encode (CRF), in
 * line with common streaming ladders for H.264 at 30 fps; easy content comes out well under them.
 */
export const rungSpecs: Readonly<Record<RungName, RungSpec>> = {
  '2160p': { height: 2160, maxrateKbps: 14000, profile: 'high' },
  '1440p': { height: 1440, maxrateKbps: 8000, profile: 'high' },
  '1080p': { height: 1080, maxrateKbps: 5000, profile: 'high' },
  '720p': { height: 720, maxrateKbps: 2800, profile: 'high' },
  '480p': { height: 480, maxrateKbps: 1400, profile: 'main' },
  '360p': { height: 360, maxrateKbps: 800, profile: 'main' },
  '240p': { height: 240, maxrateKbps: 400, profile: 'main' },
};

/** Without a `video.ladder` in the request: every rung from 1080p down (those that fit the source). */
export const defaultLadder: readonly RungName[] = ['1080p', '720p', '480p', '360p', '240p'];

/** The name of the one variant of a source smaller than every rung asked for, when its height is no rung's. */
export const sourceRungName = 'source';

/** One variant to encode: where it goes (`video/<name>/`), its picture size and its encoder settings. */
export interface PlannedRung {
  readonly name: RungName | typeof sourceRungName;
  readonly width: number;
  readonly height: number;
  readonly maxrateKbps: number;
  readonly profile: 'high' | 'main';
}

const even = (n: number) => Math.max(2, 2 * Math.round(n / 2));
const evenDown = (n: number) => Math.max(2, 2 * Math.floor(n / 2));

/**
 * The variants of a source of this displayed size (rotation and sample aspect ratio applied), tallest first.
 *
 * - A rung's height is the shorter displayed side: a 1080x1920 portrait phone video is 1080p, as is
 *   1920x1080; the picture keeps its orientation and aspect ratio (shorter side = the rung's height,
 *   longer side scaled to match and rounded to even).
 * - Never upscaled: a rung taller than the source's shorter side is skipped.
 * - If no rung asked for fits (the source is smaller than all of them), there is one variant at the
 *   source's own size (rounded down to even). It is named after its height when that is a rung's
 *   (a 640x360 source asked for 720p gives `360p`), else `source`: a name never claims a height the
 *   picture does not have. A small video is never failed for being small.
 */
export function selectRungs(displayWidth: number, displayHeight: number, requested: readonly RungName[] | undefined): PlannedRung[] {
  const shorter = Math.min(displayWidth, displayHeight);
  const longer = Math.max(displayWidth, displayHeight);
  const portrait = displayHeight > displayWidth;
  const wanted = new Set(requested ?? defaultLadder);
  const fitting = rungNames.filter((name) => wanted.has(name) && rungSpecs[name].height <= shorter);
  const sized = (short: number, long: number) => (portrait ? { width: short, height: long } : { width: long, height: short });

  if (fitting.length > 0) {
    return fitting.map((name) => {
      const spec = rungSpecs[name];
      return { name, ...sized(spec.height, even((spec.height * longer) / shorter)), maxrateKbps: spec.maxrateKbps, profile: spec.profile };
    });
  }

  const short = evenDown(shorter);
  const own = rungNames.find((name) => rungSpecs[name].height === short);
  // Settings of the smallest rung at least this tall (240p's below it): rates scale with the picture.
  const like = [...rungNames].reverse().find((name) => rungSpecs[name].height >= short) ?? '240p';
  return [{ name: own ?? sourceRungName, ...sized(short, evenDown(longer)), maxrateKbps: rungSpecs[like].maxrateKbps, profile: rungSpecs[like].profile }];
}
