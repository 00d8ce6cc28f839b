/**
 * Parsers for the reports of ffmpeg's ebur128 and silencedetect filters and of ffmpeg itself. They read
 * only channels the input cannot write to: stderr also carries the input's metadata tags (ffmpeg prints
 * them, one line per line of a tag), so text there shaped like a report proves nothing unless it carries
 * a marker made for this run; silencedetect's events come from a file its own output frames are printed
 * to, and the decoded length from ffmpeg's -progress file.
 */
import { randomBytes } from 'node:crypto';

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

/** A name for one run's ebur128 instance (`ebur128@<marker>`): unknowable to a file made before the run. */
export const runMarker = (): string => randomBytes(8).toString('hex');

/**
 * Reads the ebur128 "Summary:" block, printed once at the very end of the run (after all input has been
 * read and its tags printed), and only the one whose first line names this run's instance:
 * `[ebur128@<marker> @ 0x…] Summary:`. The lines of the block carry no prefix, which is why it counts only
 * from that line on.
 */
export class Ebur128SummaryParser {
  private inSummary = false;
  private section = '';
  private integrated: number | null = null;
  private range: number | null = null;
  private peak: number | null = null;
  private seen = false;

  constructor(private readonly marker: string) {}

  line(line: string): void {
    if (line.startsWith(`[ebur128@${this.marker} @ `) && /\] Summary:\s*$/.test(line)) {
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

/**
 * Collects silencedetect's spans from what `ametadata=mode=print:file=…` wrote right after it: the
 * `lavfi.silence_start=` / `lavfi.silence_end=` entries of its output frames (the filter chain deletes
 * any frame metadata from the input before silencedetect). A span still open at the end runs to the end.
 */
export class SilenceParser {
  private readonly spans: SilentSpan[] = [];
  private open: number | undefined;

  line(line: string): void {
    const entry = /^lavfi\.silence_(start|end)=(-?\d+(?:\.\d+)?(?:e-?\d+)?)$/.exec(line.trim());
    if (!entry) return;
    const at = Number(entry[2]);
    if (entry[1] === 'start') this.open = Math.max(0, at);
    else if (this.open !== undefined) this.close(at);
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

/** The decoded length from ffmpeg's `-progress` report: its last `out_time_us`; 0 when it has none. */
export function progressSeconds(report: string): number {
  let last = 0;
  for (const m of report.matchAll(/^out_time_us=(\d+)$/gm)) last = Number(m[1]) / 1e6;
  return last;
}
