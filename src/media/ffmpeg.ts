import type { ChildProcess } from 'node:child_process';
import { PassThrough, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import ffmpeg from 'fluent-ffmpeg';
import { TransientError } from '../contract/errors.js';
import { guardProcess } from './process-guard.js';
import { diedOfSignal } from './tool-errors.js';

/** One ffmpeg invocation: `ffmpeg <inputArgs> -i <input> <outputArgs> <output>`. */
export interface FfmpegRun {
  /** What this run is for, in error messages and logs (e.g. `transcode mp3-192k`). */
  readonly what: string;
  readonly inputArgs: readonly string[];
  readonly input: string;
  readonly outputArgs: readonly string[];
  /** A file path, or a stream that receives ffmpeg's stdout (then outputArgs must name a format with -f). */
  readonly output: string | Writable;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  /** Each stderr line as it arrives, for the reports some filters print there (ebur128, silencedetect). */
  readonly onStderrLine?: (line: string) => void;
}

/**
 * The only way the audio tasks run ffmpeg. It is implemented with fluent-ffmpeg as the design asks; since
 * that library is archived, everything it is trusted with sits behind this interface, and an
 * implementation that spawns ffmpeg directly could replace it without touching a task.
 */
export interface FfmpegRunner {
  /** Resolves when ffmpeg exited 0 and its output is complete; never before the process has exited. */
  run(run: FfmpegRun): Promise<void>;
}

/** ffmpeg exited with a non-zero status: the caller decides whether the input or the environment is to blame. */
export class FfmpegExitError extends Error {
  override readonly name = 'FfmpegExitError';
  constructor(
    readonly what: string,
    readonly exitCode: number | null,
    /** The last lines ffmpeg printed (its own error messages), for logs; never shown to users verbatim. */
    readonly stderrTail: string,
  ) {
    super(`${what}: ffmpeg exited with code ${exitCode}: ${stderrTail.split('\n').slice(-3).join(' | ')}`);
  }
}

const tailLines = 20;

/** fluent's internal binary lookup, overridden per command (see FluentFfmpegRunner). */
interface PathLookup {
  _getFfmpegPath(callback: (err: Error | null, path: string) => void): void;
}
const progressLine = /^\s*(size|frame)=/;

/** Keeps the last lines of stderr (bounded, whatever ffmpeg prints) without the progress lines. */
class StderrTail {
  private readonly lines: string[] = [];
  push(line: string): void {
    if (!line || progressLine.test(line)) return;
    this.lines.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
    if (this.lines.length > tailLines) this.lines.shift();
  }
  toString(): string {
    return this.lines.join('\n');
  }
}

export interface FluentRunnerOptions {
  readonly ffmpegPath: string;
  /** Time between SIGTERM and SIGKILL when a run is stopped. */
  readonly killGraceMs?: number;
}

/**
 * fluent-ffmpeg, with guards for its known faults:
 * - its `timeout` option sends one SIGTERM and reports "ended" before the process is gone: the guard here
 *   escalates SIGTERM → SIGKILL and this runner settles only after the process has exited;
 * - it has no AbortSignal: the same guard stops the process when the signal fires (also when it fires
 *   while fluent is still preparing, before the process exists);
 * - a failed spawn makes its own 'error' handler throw (it reads a ring buffer that was never made), which
 *   would crash the daemon: that handler is replaced by one that rejects this run;
 * - it kills ffmpeg 20 ms after a piped output stream emits 'close', even on success: stdout goes to a
 *   PassThrough that never emits 'close', and on to the caller's stream with `pipeline`;
 * - an array of options is split at a single space: options are passed as separate arguments;
 * - `setFfmpegPath` writes a process-wide cache that every command reads when it spawns, so two runners
 *   with different binaries would race: each command is pinned to this runner's binary instead.
 */
export class FluentFfmpegRunner implements FfmpegRunner {
  private readonly killGraceMs: number;

  constructor(private readonly options: FluentRunnerOptions) {
    this.killGraceMs = options.killGraceMs ?? 3000;
  }

  run(spec: FfmpegRun): Promise<void> {
    const command = ffmpeg({ stdoutLines: tailLines });
    const ffmpegPath = this.options.ffmpegPath;
    (command as unknown as PathLookup)._getFfmpegPath = (callback) => callback(null, ffmpegPath);
    const sink = typeof spec.output === 'string' ? undefined : new PassThrough({ emitClose: false });
    command.input(spec.input);
    if (spec.inputArgs.length > 0) command.inputOptions(...unsplittable(spec.inputArgs));
    command.output(sink ?? (spec.output as string));
    if (spec.outputArgs.length > 0) command.outputOptions(...unsplittable(spec.outputArgs));

    const tail = new StderrTail();
    let child: ChildProcess | undefined;
    const guard = guardProcess({
      what: spec.what,
      timeoutMs: spec.timeoutMs,
      killGraceMs: this.killGraceMs,
      signal: spec.signal,
      kill: (signal) => child?.kill(signal),
    });

    // The consumer of stdout failing (its own error) stops ffmpeg, and is the error reported.
    let consumerError: unknown;
    const piped = sink
      ? pipeline(sink, spec.output as Writable).catch((err: unknown) => {
          consumerError ??= err;
          child?.kill('SIGKILL');
        })
      : undefined;

    const exited = new Promise<void>((resolve, reject) => {
      command.on('stderr', (line: string) => {
        tail.push(line);
        spec.onStderrLine?.(line);
      });
      command.on('start', () => {
        child = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
        if (!child) return reject(new Error(`${spec.what}: fluent-ffmpeg started without a process`));
        child.removeAllListeners('error');
        child.on('error', (err) => reject(new TransientError(`${spec.what}: could not run ffmpeg: ${err.message}`, { cause: err })));
        if (guard.stopReason) child.kill('SIGKILL');
      });
      const settle = () => {
        const proc = child;
        if (!proc) return reject(new Error(`${spec.what}: ffmpeg did not start`));
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
      };
      command.on('end', settle);
      // Without a process, this is fluent failing to prepare (e.g. its capability probe): not the input's fault.
      command.on('error', (err: Error) => (child ? settle() : reject(new TransientError(`${spec.what}: ${err.message}`, { cause: err }))));
    });

    const done = (async () => {
      try {
        await exited;
      } finally {
        guard.release();
      }
      if (guard.stopReason) throw guard.stopReason;
      if (consumerError !== undefined) throw consumerError;
      const proc = child as ChildProcess;
      if (proc.signalCode) throw diedOfSignal(spec.what, 'ffmpeg', proc.signalCode);
      if (proc.exitCode !== 0) throw new FfmpegExitError(spec.what, proc.exitCode, tail.toString());
      await piped;
      if (consumerError !== undefined) throw consumerError;
    })();
    // A failed run must not leave the output's consumer waiting for an end that never comes.
    done.catch((err: unknown) => sink?.destroy(err instanceof Error ? err : new Error(String(err))));
    command.run();
    return done;
  }
}

/**
 * fluent splits a lone option at a single space ('-af a, b' becomes two arguments) but passes several
 * arguments through as they are: a lone option is therefore refused if it has a space.
 */
function unsplittable(args: readonly string[]): string[] {
  if (args.length === 1 && args[0]?.includes(' ')) throw new Error(`pass "${args[0]}" as separate arguments`);
  return [...args];
}
