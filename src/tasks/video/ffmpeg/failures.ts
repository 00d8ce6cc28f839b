import { BadInputError, TransientError } from '../../../contract/errors.js';
import { FfmpegExitError } from '../../../media/ffmpeg.js';
import { ToolCrashError, ToolTimeoutError } from '../../../media/tool-errors.js';

const decoderTrouble = /Invalid data found|Error while decoding|decode_frame\(\) failed|corrupt|Header missing|Invalid NAL unit|moov atom not found/i;

/**
 * What a failed ffmpeg or ffprobe run over a video upload means. A crash or a run past its time budget
 * is the input's doing (the same file does it again): bad input, never retried; so is a decoder's
 * complaint. Anything else (an encoder, the disk) may work next time. The job status gets our words;
 * ffmpeg's own lines stay in the logs. Other errors (an abort, a store failure) pass through unchanged.
 */
export function asTaskError(err: unknown): unknown {
  if (err instanceof ToolCrashError) {
    return new BadInputError(
      'VIDEO_TOOL_CRASHED',
      'The video tools crashed on this file: it is damaged or built to break decoders. Export it again from the source (e.g. as H.264 MP4) and upload the new file.',
      { cause: err },
    );
  }
  if (err instanceof ToolTimeoutError) {
    return new BadInputError(
      'VIDEO_TIMEOUT',
      `Processing this file took longer than ${Math.round(err.timeoutMs / 1000)} s, far longer than video of its length needs: it is damaged or built to be slow to decode. Export it again from the source and upload the new file (the limits are VIDEO_PROBE_TIMEOUT_SECONDS, VIDEO_RUN_TIMEOUT_SECONDS and VIDEO_RUN_TIMEOUT_RATIO).`,
      { cause: err },
    );
  }
  if (!(err instanceof FfmpegExitError)) return err;
  if (decoderTrouble.test(err.stderrTail)) return corrupt(err);
  return new TransientError(`${err.what}: ffmpeg exited with code ${err.exitCode}`, { cause: err });
}

export const corrupt = (cause?: unknown) =>
  new BadInputError('VIDEO_CORRUPT', 'The video could not be read or decoded: the file appears to be damaged. Export it again from the source and upload the new file.', cause === undefined ? undefined : { cause });
