import { z } from 'zod';

const SilentSpan = z.strictObject({
  startSeconds: z.number().nonnegative(),
  endSeconds: z.number().nonnegative(),
  durationSeconds: z.number().nonnegative(),
});

/** analysis.json for audio jobs (contract section 4). */
export const AudioAnalysisReport = z.strictObject({
  durationSeconds: z.number().positive(),
  sampleRate: z.number().int().positive(),
  channels: z.number().int().positive(),
  channelLayout: z.string().nullable(),
  codec: z.string(),
  container: z.string(),
  /** Bits per second of the audio track (or of the file, when the track does not say); null if unknown. */
  bitRate: z.number().nonnegative().nullable(),
  loudness: z.strictObject({
    /** EBU R128 integrated loudness, LUFS; null when the audio is too quiet to measure. */
    integratedLufs: z.number().nullable(),
    /** EBU R128 loudness range, LU. */
    rangeLu: z.number().nullable(),
    /** True peak, dBTP; null for digital silence. */
    truePeakDbtp: z.number().nullable(),
  }),
  silence: z.strictObject({
    /** A span is silent when its level stays under this many dB below full scale… */
    thresholdDb: z.number(),
    /** …for at least this long. */
    minDurationSeconds: z.number().positive(),
    spans: z.array(SilentSpan),
  }),
});
export type AudioAnalysisReport = z.infer<typeof AudioAnalysisReport>;
