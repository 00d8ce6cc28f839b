import type { StageStatus } from '../contract/status-document.js';

type Progress = NonNullable<StageStatus['progress']>;

export interface ProgressReporterOptions {
  /** Writes the stage's progress (JobStatusStore.stageProgress); never rejects. */
  write(progress: Progress): Promise<void>;
  /** At most one write per interval: a task may report every frame. */
  intervalMs?: number;
  now?: () => number;
}

/**
 * Turns a stage's tasks' fractions into status writes: the stage's progress is its slowest reporting
 * task's, the estimated finish extrapolates from the time since the stage started, and writes are spaced
 * at least `intervalMs` apart, one at a time. `stop` ends reporting and waits for a write under way, so
 * nothing about the attempt is written after its outcome.
 */
export function progressReporter(options: ProgressReporterOptions): { report(task: string, fraction: number): void; stop(): Promise<void> } {
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? 3000;
  const started = now();
  const fractions = new Map<string, number>();
  let lastWrite = -Infinity;
  let writing: Promise<void> | undefined;
  let stopped = false;
  return {
    report(task, fraction) {
      if (stopped || !Number.isFinite(fraction)) return;
      fractions.set(task, Math.min(1, Math.max(0, fraction)));
      const t = now();
      if (writing || t - lastWrite < intervalMs) return;
      lastWrite = t;
      const done = Math.min(...fractions.values());
      const elapsed = t - started;
      const progress: Progress = {
        percent: Math.floor(done * 1000) / 10,
        ...(done > 0 ? { estimatedFinishAt: new Date(started + elapsed / done).toISOString() } : {}),
      };
      writing = options.write(progress).finally(() => {
        writing = undefined;
      });
    },
    async stop() {
      stopped = true;
      await writing;
    },
  };
}
