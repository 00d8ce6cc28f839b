import type { Config } from '../../contract/env.js';
import type { KindDefinition } from '../../pipeline/task.js';
import { VideoAnalysisTask } from './analysis-task.js';
import { confirmVideo, detectVideo } from './detect.js';
import { createVideoToolkit } from './ffmpeg/create-toolkit.js';
import type { VideoToolkit } from './ffmpeg/toolkit.js';
import { VideoLadderTask } from './ladder-task.js';
import { VideoOptions } from './options.js';
import { VideoProbeTask } from './probe-task.js';
import { VideoStillsTask } from './stills-task.js';

/** One toolkit per configuration: the tasks and the ingestion's confirmation share binaries and limits. */
const kits = new WeakMap<Config, VideoToolkit>();
function kitFor(config: Config): VideoToolkit {
  let kit = kits.get(config);
  if (!kit) kits.set(config, (kit = createVideoToolkit(config)));
  return kit;
}

export const videoKind: KindDefinition<VideoOptions> = {
  kind: 'video',
  options: VideoOptions,
  detect: detectVideo,
  // A container that may hold video is video when ffprobe finds a picture in it, and also when not even
  // ffprobe can read it: the video stages then say VIDEO_CORRUPT, not an audio code for a video upload.
  // Only one that reads as sound alone (an MP4 of speech, a WebM of Opus) is left to the audio kind.
  confirm: async (input, store, signal, config) => (await confirmVideo(input, store, signal, kitFor(config))) !== 'no-video',
  tasks(config) {
    const kit = kitFor(config);
    return [
      { stage: 'validation', task: new VideoProbeTask(kit) },
      // Analysis: the ladder is the long one; the stills and the report run beside it.
      { stage: 'analysis', task: new VideoLadderTask(kit) },
      { stage: 'analysis', task: new VideoStillsTask(kit) },
      { stage: 'analysis', task: new VideoAnalysisTask(kit) },
    ];
  },
};
