import { BadInputError, TransientError } from '../../errors.js';
import { FfmpegExitError } from './ffmpeg.js';

const decoderTrouble = /Invalid data found|Error while decoding|decode_frame\(\) failed|corrupt|Header missing/i;

/**
 * What a failed ffmpeg run over an already validated upload means: if the decoder complained, the file
 * is damaged after all (bad input); anything else (an encoder, the disk) may work next time. The job
 * status gets our words; ffmpeg's own lines stay in the logs.
 */
export function asTaskError(err: unknown): unknown {
  if (!(err instanceof FfmpegExitError)) return err;
  if (decoderTrouble.test(err.stderrTail)) {
    return new BadInputError('AUDIO_CORRUPT', 'Part of the audio could not be decoded: the file appears to be damaged. Export it again from the source and upload the new file.', { cause: err });
  }
  return new TransientError(`${err.what}: ffmpeg exited with code ${err.exitCode}`, { cause: err });
}
