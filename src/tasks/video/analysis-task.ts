import { jobKey } from '../../contract/job-keys.js';
import type { Task, TaskContext, TaskResult } from '../../pipeline/task.js';
import type { VideoToolkit } from './ffmpeg/toolkit.js';
import { openVideoInput } from './input/open-video-input.js';
import { VideoInfo } from './input/video-info.js';

/**
 * Analysis: `analysis.json` is what the probe found (contract section 4): container, length, size, bit
 * rate, the video stream and the audio tracks, in our own fields only. Of the input's tags only an audio
 * track's language is reported (and only when it is a language code): the rest is the uploader's text.
 */
export class VideoAnalysisTask implements Task {
  readonly name = 'video-analysis';

  constructor(private readonly kit: VideoToolkit) {}

  async run(ctx: TaskContext): Promise<TaskResult> {
    const { info } = await openVideoInput(ctx, this.kit);
    // Parsed again on the way out: VideoInfo is a strict description, nothing else reaches the document.
    const key = await ctx.store.putJson(jobKey(ctx.job.jobId, 'analysis.json'), VideoInfo.parse(info), ctx.signal);
    return { outputs: { 'analysis.json': key } };
  }
}
