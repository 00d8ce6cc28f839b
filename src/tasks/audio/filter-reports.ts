/**
 * Parsers for what ffmpeg's ebur128 and silencedetect filters print to stderr. They take lines one at a
 * time, so an hour of audio is parsed as it is decoded, holding only the results.
 */

export interface LoudnessSummary {
  /** Integrated loudness, LUFS; null when nothing is loud enough to measure (ebur128 prints -70). */
  readonly integratedLufs: number | null;
  readonly rangeLu: number | null;
  /** True peak, dBTP (ebur128 labels it dBFS; with peak=true it is the 4× oversampled true peak); null for digital silence. */
  readonly truePeakDbtp: number | null;
}

const number = (text: string): number | null => {
  const v = Number(text);
  return Number.isFinite(v) ? v : null;
};

/** Reads the ebur128 "Summary:" block (printed once, at the end of the run). */
export class Ebur128SummaryParser {
  private inSummary = false;
  private section = '';
  private integrated: number | null = null;
  private range: number | null = null;
  private peak: number | null = null;
  private seen = false;

  line(line: string): void {
    if (/\bSummary:\s*$/.test(line) && line.includes('ebur128')) {
      this.inSummary = true;
      this.seen = true;
      return;
    }
    if (!this.inSummary) return;
    const heading = /^\s{2}(\S[^:]*):\s*$/.exec(line);
    if (heading) {
      this.section = heading[1] ?? '';
      return;
    }
    const value = /^\s+(I|LRA|Peak):\s+(-?inf|-?\d+(?:\.\d+)?)\s/.exec(line);
    if (!value) return;
    const v = number(value[2] === '-inf' ? '-Infinity' : (value[2] as string));
    if (value[1] === 'I' && this.section === 'Integrated loudness') this.integrated = v !== null && v > -70 ? v : null;
    if (value[1] === 'LRA' && this.section === 'Loudness range') this.range = v;
    if (value[1] === 'Peak' && this.section === 'True peak') this.peak = v;
  }

  /** Undefined if no summary was printed (the run did not finish). */
  result(): LoudnessSummary | undefined {
    if (!this.seen) return undefined;
    return { integratedLufs: this.integrated, rangeLu: this.range, truePeakDbtp: this.peak };
  }
}

export interface SilentSpan {
  readonly startSeconds: number;
  readonly endSeconds: number;
  readonly durationSeconds: number;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

/** Collects silencedetect's silence_start / silence_end pairs; a span still open at the end runs to the end. */
export class SilenceParser {
  private readonly spans: SilentSpan[] = [];
  private open: number | undefined;

  line(line: string): void {
    if (!line.includes('silencedetect')) return;
    const start = /silence_start:\s*(-?\d+(?:\.\d+)?)/.exec(line);
    if (start) {
      this.open = Math.max(0, Number(start[1]));
      return;
    }
    const end = /silence_end:\s*(-?\d+(?:\.\d+)?)/.exec(line);
    if (end && this.open !== undefined) {
      this.close(Number(end[1]));
    }
  }

  result(durationSeconds: number): SilentSpan[] {
    if (this.open !== undefined && durationSeconds > this.open) this.close(durationSeconds);
    return this.spans;
  }

  private close(endSeconds: number): void {
    const startSeconds = this.open as number;
    this.open = undefined;
    this.spans.push({ startSeconds: round3(startSeconds), endSeconds: round3(endSeconds), durationSeconds: round3(endSeconds - startSeconds) });
  }
}

/** The decoded length so far, from ffmpeg's progress line (`time=00:10:00.00`). */
export function progressSeconds(line: string): number | undefined {
  const time = /time=\s*(\d+):(\d\d):(\d\d(?:\.\d+)?)/.exec(line);
  return time ? Number(time[1]) * 3600 + Number(time[2]) * 60 + Number(time[3]) : undefined;
}
