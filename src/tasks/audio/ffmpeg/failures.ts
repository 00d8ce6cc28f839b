import { BadInputError, TransientError } from '../../../contract/errors.js';
import { FfmpegExitError } from '../../../media/ffmpeg.js';
import { ToolCrashError, ToolTimeoutError } from '../../../media/tool-errors.js';

const decoderTrouble = /Invalid data found|Error while decoding|decode_frame\(\) failed|corrupt|Header missing/i;

/**
 * What a failed ffmpeg or ffprobe run over an upload means. A crash or a run past its time budget is
 * the input's doing (the same file does it again), and so is a decoder's complaint: bad input, never
 * retried. Anything else (an encoder, the disk) may work next time. The job status gets our words;
 * ffmpeg's own lines stay in the logs. Other errors (an abort, a store failure) pass through unchanged.
 */
export function asTaskError(err: unknown): unknown {
  if (err instanceof ToolCrashError) {
    return new BadInputError(
      'AUDIO_TOOL_CRASHED',
      'The audio tools crashed on this file: it is damaged or built to break decoders. Export it again from the source (e.g. as WAV or FLAC) and upload the new file.',
      { cause: err },
    );
  }
  if (err instanceof ToolTimeoutError) {
    return new BadInputError(
      'AUDIO_TIMEOUT',
      `Processing this file took longer than ${Math.round(err.timeoutMs / 1000)} s, far longer than audio of its length needs: it is damaged or built to be slow to decode. Export it again from the source and upload the new file.`,
      { cause: err },
    );
  }
  if (!(err instanceof FfmpegExitError)) return err;
  if (decoderTrouble.test(err.stderrTail)) {
    return new BadInputError('AUDIO_CORRUPT', 'Part of the audio could not be decoded: the file appears to be damaged. Export it again from the source and upload the new file.', { cause: err });
  }
  return new TransientError(`${err.what}: ffmpeg exited with code ${err.exitCode}`, { cause: err });
}
