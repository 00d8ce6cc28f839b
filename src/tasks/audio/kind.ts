import type { Detection, KindDefinition } from '../../pipeline/task.js';
import { TrackAnalysisTask } from './analysis-task.js';
import { AudioOptions } from './options.js';
import { AudioProbeTask } from './probe-task.js';
import { createAudioToolkit } from './ffmpeg/toolkit.js';
import { TranscodeTask } from './transcode-task.js';
import { WaveformTask } from './waveform-task.js';

const ascii = (buf: Buffer, at: number, text: string) => buf.subarray(at, at + text.length).toString('latin1') === text;

/** Containers and streams ffmpeg reads as audio, by their magic bytes. */
function detectAudio(b: Buffer): Detection {
  if (ascii(b, 0, 'RIFF') && (ascii(b, 8, 'WAVE') || ascii(b, 8, 'RF64'))) return 'certain';
  if (ascii(b, 0, 'RF64') || ascii(b, 0, 'BW64')) return 'certain';
  if (ascii(b, 0, 'FORM') && (ascii(b, 8, 'AIFF') || ascii(b, 8, 'AIFC'))) return 'certain';
  if (ascii(b, 0, 'ID3') || ascii(b, 0, 'fLaC') || ascii(b, 0, 'OggS') || ascii(b, 0, 'caff')) return 'certain';
  if (ascii(b, 4, 'ftyp')) return 'certain'; // MP4/M4A/3GP
  if (b.length >= 4 && b.readUInt32BE(0) === 0x1a45dfa3) return 'certain'; // Matroska/WebM
  if (ascii(b, 0, '#!AMR') || ascii(b, 0, 'MAC ') || ascii(b, 0, 'wvpk') || ascii(b, 0, '.snd')) return 'certain';
  // MPEG audio frame sync (MP3 without ID3) or ADTS AAC: 11 set bits. Weaker: a UTF-16 BOM (FF FE) has them too.
  if (b.length >= 2 && b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0) return 'possible';
  return undefined;
}

export const audioKind: KindDefinition<AudioOptions> = {
  kind: 'audio',
  options: AudioOptions,
  detect: detectAudio,
  tasks(config) {
    const kit = createAudioToolkit(config);
    return [
      { stage: 'validation', task: new AudioProbeTask(kit) },
      { stage: 'analysis', task: new TranscodeTask(kit) },
      { stage: 'analysis', task: new WaveformTask(kit) },
      { stage: 'analysis', task: new TrackAnalysisTask(kit) },
    ];
  },
};
