import type { Task, TaskContext, TaskResult } from '../../pipeline/task.js';
import type { VideoToolkit } from './ffmpeg/toolkit.js';
import { openVideoInput } from './input/open-video-input.js';
import { produceLadder } from './ladder/produce-ladder.js';

/**
 * Analysis: the HLS ladder (contract sections 3 and 4): `video/master.m3u8` and one fMP4 variant per
 * rung under `video/<rung>/`, from one ffmpeg process with keyframes aligned across the rungs.
 */
export class VideoLadderTask implements Task {
  readonly name = 'video-ladder';

  constructor(private readonly kit: VideoToolkit) {}

  async run(ctx: TaskContext): Promise<TaskResult> {
    const source = await openVideoInput(ctx, this.kit);
    return { outputs: await produceLadder(ctx, source, this.kit) };
  }
}
