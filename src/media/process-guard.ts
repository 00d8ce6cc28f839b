import { AbortedError } from '../contract/errors.js';
import { ToolTimeoutError } from './tool-errors.js';

export interface GuardOptions {
  /** Wall-clock limit for the whole run. */
  readonly timeoutMs: number;
  /** How long a process gets to exit after SIGTERM before SIGKILL. */
  readonly killGraceMs: number;
  readonly signal: AbortSignal;
  /** Sends a signal to the process; must be harmless once it has exited. */
  kill(signal: NodeJS.Signals): void;
  /** What the run is, for error messages. */
  readonly what: string;
}

export interface ProcessGuard {
  /**
   * Why the guard stopped the process, as the error the caller should throw (timeout: ToolTimeoutError;
   * abort: AbortedError), or undefined when the process ended on its own.
   */
  readonly stopReason: Error | undefined;
  /** Call once the process has exited: clears the timers. */
  release(): void;
}

/**
 * Bounds a child process in time and ties it to an AbortSignal. Both stop it with SIGTERM (ffmpeg then
 * finishes cleanly and quickly) and escalate to SIGKILL if it has not exited after the grace period,
 * since a process stuck in I/O or a decoder loop may ignore SIGTERM.
 */
export function guardProcess(options: GuardOptions): ProcessGuard {
  let stopReason: Error | undefined;
  let escalation: NodeJS.Timeout | undefined;
  const stop = (reason: Error) => {
    if (stopReason) return;
    stopReason = reason;
    options.kill('SIGTERM');
    escalation = setTimeout(() => options.kill('SIGKILL'), options.killGraceMs);
    escalation.unref();
  };
  const onAbort = () => stop(new AbortedError(`${options.what} aborted`, { cause: options.signal.reason }));
  const timer = setTimeout(() => stop(new ToolTimeoutError(options.what, options.timeoutMs)), options.timeoutMs);
  timer.unref();
  if (options.signal.aborted) onAbort();
  else options.signal.addEventListener('abort', onAbort, { once: true });
  return {
    get stopReason() {
      return stopReason;
    },
    release() {
      clearTimeout(timer);
      clearTimeout(escalation);
      options.signal.removeEventListener('abort', onAbort);
    },
  };
}
