import { TransientError } from '../contract/errors.js';

/**
 * Signals a process raises on itself when it crashes (a failed assertion, a bad memory access, a
 * division by zero). SIGKILL, SIGTERM and the like come from outside (an operator, the OOM killer).
 */
const crashSignals: ReadonlySet<NodeJS.Signals> = new Set(['SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGSEGV', 'SIGSYS', 'SIGTRAP']);

/** ffmpeg or ffprobe crashed on what it was given: the same input crashes it again, so it is never retried. */
export class ToolCrashError extends Error {
  override readonly name = 'ToolCrashError';
  constructor(
    readonly what: string,
    readonly signal: NodeJS.Signals,
  ) {
    super(`${what}: crashed with ${signal}`);
  }
}

/** ffmpeg or ffprobe ran past its wall-clock budget for the input and was stopped. */
export class ToolTimeoutError extends Error {
  override readonly name = 'ToolTimeoutError';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`${what} ran longer than ${Math.round(timeoutMs / 1000)} s and was stopped`);
  }
}

/** A tool that died of a signal nobody here sent: a crash, or a kill from outside (which may not happen next time). */
export function diedOfSignal(what: string, tool: string, signal: NodeJS.Signals): Error {
  return crashSignals.has(signal) ? new ToolCrashError(what, signal) : new TransientError(`${what}: ${tool} was killed by ${signal}`);
}
