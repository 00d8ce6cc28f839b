import { jobKey } from '../../contract/job-keys.js';
import type { Task, TaskContext, TaskResult } from '../../pipeline/task.js';
import type { VideoToolkit } from './ffmpeg/toolkit.js';
import { openVideoInput } from './input/open-video-input.js';
import { defaultStillsOptions, type StillsOptions } from './stills/layout.js';
import { makePoster } from './stills/poster.js';
import { makeThumbnails } from './stills/thumbnails.js';

/**
 * Analysis: `video/poster.jpg` (a representative frame, never the black of an opening) and the seek
 * preview: `video/thumbnails.jpg` (a sheet of small frames) with `video/thumbnails.vtt` (WebVTT cues
 * covering the whole video, each pointing at its tile). Run one after the other: both are a few
 * seconds of CPU at most, beside the ladder running in the same stage.
 */
export class VideoStillsTask implements Task {
  readonly name = 'video-stills';

  constructor(
    private readonly kit: VideoToolkit,
    private readonly options: StillsOptions = defaultStillsOptions,
  ) {}

  async run(ctx: TaskContext): Promise<TaskResult> {
    const source = await openVideoInput(ctx, this.kit);
    const { store, job, signal } = ctx;
    const poster = await makePoster(this.kit, source, ctx, this.options);
    ctx.reportProgress(0.3);
    const thumbnails = await makeThumbnails(this.kit, source, ctx, this.options, 'thumbnails.jpg');
    ctx.reportProgress(0.9);
    const [posterKey, sheetKey, vttKey] = await Promise.all([
      store.upload(jobKey(job.jobId, 'video/poster.jpg'), poster.jpeg, 'image/jpeg', signal),
      store.upload(jobKey(job.jobId, 'video/thumbnails.jpg'), thumbnails.sheet, 'image/jpeg', signal),
      store.upload(jobKey(job.jobId, 'video/thumbnails.vtt'), thumbnails.vtt, 'text/vtt', signal),
    ]);
    ctx.logger.info({ posterAt: poster.time, tiles: thumbnails.plan.count, intervalSeconds: thumbnails.plan.interval, fullDecode: thumbnails.fullDecode }, 'video stills written');
    return { outputs: { 'video/poster.jpg': posterKey, 'video/thumbnails.jpg': sheetKey, 'video/thumbnails.vtt': vttKey } };
  }
}
