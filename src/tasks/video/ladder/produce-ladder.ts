import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { jobKey } from '../../../contract/job-keys.js';
import type { TaskContext } from '../../../pipeline/task.js';
import type { VideoToolkit } from '../ffmpeg/toolkit.js';
import type { VideoSource } from '../input/video-info.js';
import { videoOptionsOf } from '../options.js';
import { encodeLadder, masterFile, type EncodedLadder } from './encode-ladder.js';
import { playlistFile } from './ladder-args.js';
import { selectRungs } from './rungs.js';
import { inParallel } from '../../../pipeline/in-parallel.js';

const contentTypes = { playlist: 'application/vnd.apple.mpegurl', init: 'video/mp4', segment: 'video/iso.segment' } as const;

/** Share of the progress the encode stands for; the uploads after it take the rest. */
const encodeShare = 0.95;
const parallelUploads = 4;

/**
 * The ladder of an accepted upload, from the job's `video.ladder` (or the default) to its outputs in the
 * store: encoded into the task's temp dir, then uploaded under `video/` (segments and init sections, then
 * each variant playlist, the master last, so no playlist is ever readable before what it names). Returns
 * the outputs by name: the master and each variant playlist (segments are named by their playlists).
 * Its temp files are gone when this returns, on every path.
 */
export async function produceLadder(ctx: TaskContext, source: VideoSource, kit: VideoToolkit): Promise<Record<string, string>> {
  const rungs = selectRungs(source.info.video.width, source.info.video.height, videoOptionsOf(ctx.job).ladder);
  const dir = join(ctx.tmpDir, 'ladder');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    const encoded = await encodeLadder(source, rungs, kit, {
      dir,
      signal: ctx.signal,
      onProgress: (f) => ctx.reportProgress(f * encodeShare),
    });
    const outputs = await uploadLadder(ctx, encoded);
    ctx.reportProgress(1);
    ctx.logger.info({ rungs: encoded.variants.map((v) => ({ name: v.rung.name, size: `${v.rung.width}x${v.rung.height}`, bandwidth: v.entry.bandwidth })) }, 'video ladder stored');
    return outputs;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function uploadLadder(ctx: TaskContext, encoded: EncodedLadder): Promise<Record<string, string>> {
  const put = (local: string, name: string, contentType: string) =>
    ctx.store.upload(jobKey(ctx.job.jobId, `video/${name}`), createReadStream(local), contentType, ctx.signal);
  const media = encoded.variants.flatMap((v) => [
    { local: join(v.dir, v.playlist.map), name: `${v.rung.name}/${v.playlist.map}`, type: contentTypes.init },
    ...v.playlist.segments.map((s) => ({ local: join(v.dir, s.uri), name: `${v.rung.name}/${s.uri}`, type: contentTypes.segment })),
  ]);
  await inParallel(media, parallelUploads, (f) => put(f.local, f.name, f.type));

  const outputs: Record<string, string> = {};
  for (const v of encoded.variants) {
    const name = `video/${v.rung.name}/${playlistFile}`;
    outputs[name] = await put(join(v.dir, playlistFile), `${v.rung.name}/${playlistFile}`, contentTypes.playlist);
  }
  outputs[`video/${masterFile}`] = await put(encoded.masterPath, masterFile, contentTypes.playlist);
  return outputs;
}
