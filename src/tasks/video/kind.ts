import type { KindDefinition } from '../../pipeline/task.js';
import { VideoOptions } from './options.js';

export const videoKind: KindDefinition<VideoOptions> = {
  kind: 'video',
  options: VideoOptions,
  detect: () => undefined,
  tasks: () => [],
};
