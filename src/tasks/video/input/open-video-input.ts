import { stat } from 'node:fs/promises';
import { BadInputError } from '../../../contract/errors.js';
import { FfmpegExitError } from '../../../media/ffmpeg.js';
import type { TaskContext } from '../../../pipeline/task.js';
import { videoContainersForHumans } from '../ffmpeg/demuxers.js';
import { asTaskError, corrupt } from '../ffmpeg/failures.js';
import type { VideoToolkit } from '../ffmpeg/toolkit.js';
import { judgeVideo } from './judge-video.js';
import { VideoProbeReport } from './probe-report.js';
import type { VideoSource } from './video-info.js';

/**
 * Checks the upload's size before downloading it, downloads it (once per stage, shared by the tasks),
 * probes it under the video input restrictions and refuses what the video tasks must not or cannot
 * process, each with its own code, before anything decodes a frame. Every video task starts here, so a
 * redelivered message of any stage is held to the same rules as validation.
 */
export async function openVideoInput(ctx: TaskContext, kit: VideoToolkit): Promise<VideoSource> {
  const { limits } = kit;
  checkSize((await ctx.store.head(ctx.job.input, ctx.signal)).size, limits.maxBytes);
  const path = await ctx.inputFile();
  const sizeBytes = (await stat(path)).size;
  checkSize(sizeBytes, limits.maxBytes);

  let probed;
  try {
    probed = await kit.prober.probe(path, ctx.signal);
  } catch (err) {
    throw err instanceof FfmpegExitError ? probeFailure(err) : asTaskError(err);
  }
  const report = VideoProbeReport.safeParse(probed.report);
  if (!report.success) throw corrupt(report.error);
  return { path, info: judgeVideo(report.data, sizeBytes, limits) };
}

function checkSize(size: number, max: number): void {
  if (size === 0) throw new BadInputError('INPUT_EMPTY', 'The uploaded file is empty (0 bytes). Upload the video again; the upload may have failed.');
  if (size > max) {
    throw new BadInputError(
      'INPUT_TOO_LARGE',
      `The upload is ${size} bytes, more than MAX_INPUT_BYTES (${max}). Compress it (e.g. H.264 at a lower bit rate) or split it, then submit again.`,
    );
  }
}

/** ffprobe refused or could not read the file: say why in words, never echo what ffmpeg printed. */
function probeFailure(err: FfmpegExitError): BadInputError {
  if (/not on whitelist/i.test(err.stderrTail)) {
    return new BadInputError(
      'VIDEO_UNSUPPORTED_CONTAINER',
      `The upload is not in a video container this service reads (it looks like another format, a playlist or an image). Upload one of: ${videoContainersForHumans}.`,
      { cause: err },
    );
  }
  return corrupt(err);
}
