import { open, type FileHandle } from 'node:fs/promises';

/** ffmpeg's `-progress` report into a file of ours (nothing from the input can appear in it, unlike stderr). */
export const progressArgs = (path: string): string[] => ['-progress', `file:${path}`];

export interface ProgressWatch {
  /** Stops watching after one last read, so the final report is not missed. */
  stop(): Promise<void>;
}

/**
 * Follows the `-progress` file ffmpeg appends `key=value` blocks to (about two a second), reading only
 * what was added since the last look, and reports `out_time_us` / duration (0-1), only ever increasing.
 * Polling a file keeps this beside the runner: its stderr tail stays free for ffmpeg's error lines.
 */
export function watchProgress(path: string, durationSeconds: number, report: (fraction: number) => void, pollMs = 500): ProgressWatch {
  let handle: FileHandle | undefined;
  let offset = 0;
  let partial = '';
  let best = 0;
  let reading: Promise<void> = Promise.resolve();
  const buffer = Buffer.alloc(64 * 1024);

  const readMore = async () => {
    try {
      handle ??= await open(path, 'r');
    } catch {
      return; // ffmpeg has not created it yet
    }
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      const lines = (partial + buffer.toString('latin1', 0, bytesRead)).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^out_time_us=(\d+)/.exec(line);
        if (!m || durationSeconds <= 0) continue;
        const fraction = Math.min(1, Number(m[1]) / 1e6 / durationSeconds);
        if (fraction > best) {
          best = fraction;
          report(fraction);
        }
      }
    }
  };
  const tick = () => {
    reading = reading.then(readMore).catch(() => undefined);
  };
  const timer = setInterval(tick, pollMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      tick();
      await reading;
      await handle?.close().catch(() => undefined);
      handle = undefined;
    },
  };
}
