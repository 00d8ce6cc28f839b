import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileInput } from '../../../media/untrusted-input.js';
import type { VideoToolkit } from '../ffmpeg/toolkit.js';
import type { VideoSource } from '../input/video-info.js';
import { asTaskError } from '../ffmpeg/failures.js';
import { ladderOutputArgs, playlistFile } from './ladder-args.js';
import {
  aacLowComplexity,
  avcCodecOf,
  measureBandwidth,
  parseMediaPlaylist,
  writeMasterPlaylist,
  writeMediaPlaylist,
  type MasterVariant,
  type MediaPlaylist,
} from './playlists.js';
import { progressArgs, watchProgress } from './progress.js';
import { segmentSeconds, type PlannedRung } from './rungs.js';

export const masterFile = 'master.m3u8';

export interface EncodedVariant {
  readonly rung: PlannedRung;
  /** `<dir>/<rung name>`: the init section, the segments and our rewritten playlist. */
  readonly dir: string;
  readonly playlist: MediaPlaylist;
  readonly entry: MasterVariant;
}

export interface EncodedLadder {
  readonly variants: readonly EncodedVariant[];
  /** `<dir>/master.m3u8`. */
  readonly masterPath: string;
}

export interface LadderRun {
  /** An empty private directory the variants are written into. */
  readonly dir: string;
  readonly signal: AbortSignal;
  /** How far the encode has come (0-1), increasing. */
  readonly onProgress?: (fraction: number) => void;
}

/**
 * Encodes the ladder in one ffmpeg process (the source is decoded once, split to one encoder per rung,
 * each writing its own fMP4 HLS variant), then measures what came out and writes the playlists:
 * each variant's own, and the master with bandwidths measured from the segments and codecs read from
 * the encoded stream.
 *
 * fMP4 rather than MPEG-TS segments: both ffmpeg builds write it, hls.js and Safari play it, and
 * ffprobe (the bundled 2018 one included, which crashes on TS) can check what was made.
 */
export async function encodeLadder(source: VideoSource, rungs: readonly PlannedRung[], kit: VideoToolkit, run: LadderRun): Promise<EncodedLadder> {
  if (rungs.length === 0) throw new Error('a ladder needs a rung');
  for (const rung of rungs) await mkdir(join(run.dir, rung.name), { recursive: true, mode: 0o700 });
  const { info } = source;
  const audio = info.audio[0];
  const { outputArgs, output } = ladderOutputArgs({
    rungs,
    dir: run.dir,
    frameRate: info.video.frameRate,
    audio: audio ? { sampleRate: audio.sampleRate, channels: audio.channels } : undefined,
    maxSeconds: kit.limits.maxDurationSeconds,
  });
  const progressPath = join(run.dir, 'progress.txt');
  const watch = watchProgress(progressPath, info.durationSeconds, (f) => run.onProgress?.(f));
  try {
    await kit.ffmpeg.run({
      what: `video ladder ${rungs.map((r) => r.name).join(',')}`,
      inputArgs: ['-nostdin', '-hide_banner', '-loglevel', 'error', ...progressArgs(progressPath), ...kit.inputArgs],
      input: fileInput(source.path),
      outputArgs,
      output,
      timeoutMs: kit.limits.runTimeoutMs(info.durationSeconds),
      signal: run.signal,
    });
  } catch (err) {
    throw asTaskError(err);
  } finally {
    await watch.stop();
  }

  const variants: EncodedVariant[] = [];
  for (const rung of rungs) {
    const dir = join(run.dir, rung.name);
    const playlist = parseMediaPlaylist(await readFile(join(dir, playlistFile), 'utf8'));
    const sized = await Promise.all(playlist.segments.map(async (s) => ({ ...s, bytes: (await stat(join(dir, s.uri))).size })));
    const bandwidth = measureBandwidth(sized, segmentSeconds);
    const video = avcCodecOf(await readFile(join(dir, playlist.map)));
    await writeFile(join(dir, playlistFile), writeMediaPlaylist(playlist));
    variants.push({
      rung,
      dir,
      playlist,
      entry: {
        uri: `${rung.name}/${playlistFile}`,
        bandwidth: bandwidth.peak,
        averageBandwidth: bandwidth.average,
        width: rung.width,
        height: rung.height,
        codecs: audio ? [video, aacLowComplexity] : [video],
        frameRate: info.video.frameRate,
      },
    });
  }
  const masterPath = join(run.dir, masterFile);
  await writeFile(masterPath, writeMasterPlaylist(variants.map((v) => v.entry)));
  return { variants, masterPath };
}
