import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { BadInputError, BadMessageError } from '../../src/contract/errors.js';

/**
 * Shared settings of the property-based tests (test/unit/fuzz-*.test.ts). `npm test` runs them with a
 * fixed seed and a bounded budget, so a run is repeatable and short. A longer campaign:
 *   FUZZ_SEED=<integer> FUZZ_RUNS=<runs per property> node --import tsx --test test/unit/fuzz-*.test.ts
 * FUZZ_RUNS lifts the per-property time limit (the campaign runs every run); a failure prints the seed
 * and the path fast-check needs to replay it.
 */
const seedText = process.env.FUZZ_SEED;
const runsText = process.env.FUZZ_RUNS;
export const fuzzSeed = seedText === undefined ? 0x5ec12 : strictInt('FUZZ_SEED', seedText);
const campaignRuns = runsText === undefined ? undefined : strictInt('FUZZ_RUNS', runsText);

function strictInt(name: string, text: string): number {
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(text)}`);
  return n;
}

/** One run that takes longer than this fails the property (and shrinks): a super-linear path on small input. */
const slowRunMs = 10_000;
/** One run that takes longer than this is a hang: the watchdog kills the test process, naming the run. */
const hangMs = 60_000;

/**
 * fast-check's parameters: `runs` runs, or as many as fit in `budgetMs` (a loaded machine runs fewer,
 * never longer). The defaults keep the whole fuzz set to a few seconds of CPU per file.
 */
export function fuzzParams(runs: number, budgetMs: number): fc.Parameters<unknown> {
  return campaignRuns === undefined
    ? { seed: fuzzSeed, numRuns: runs, interruptAfterTimeLimit: budgetMs, markInterruptAsFailure: false }
    : { seed: fuzzSeed, numRuns: campaignRuns };
}

// The watchdog: a thread that sleeps on a shared deadline and kills the process when a run passes it.
// A synchronous infinite loop blocks the test's own timers, so only another thread can stop it.
const shared = new SharedArrayBuffer(8 + 4 + 4096);
const deadline = new Float64Array(shared, 0, 1);
const labelLength = new Int32Array(shared, 8, 1);
const label = new Uint8Array(shared, 12);
const watchdogSource = String.raw`
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const deadline = new Float64Array(workerData, 0, 1);
const length = new Int32Array(workerData, 8, 1);
const label = new Uint8Array(workerData, 12);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
for (;;) {
  Atomics.wait(sleeper, 0, 0, 250);
  const at = deadline[0];
  if (at > 0 && Date.now() > at) {
    const text = Buffer.from(label.slice(0, length[0])).toString('utf8');
    fs.writeSync(2, 'fuzz: a run hung past ${hangMs} ms, killing the test process: ' + text + '\n');
    process.kill(process.pid, 'SIGKILL');
  }
}`;
let watchdog: Worker | undefined;

/**
 * Wraps a property's body: each run is timed (slow is a failure, a hang kills the process with the run's
 * input on stderr) and must end in a value or in one of `typed`; anything else (TypeError, RangeError,
 * ZodError…) fails the property with the input that caused it.
 */
export function bounded<Ts extends unknown[]>(name: string, body: (...args: Ts) => void | Promise<void>): (...args: Ts) => Promise<void> {
  if (!watchdog) {
    watchdog = new Worker(watchdogSource, { eval: true, workerData: shared });
    watchdog.unref();
  }
  return async (...args: Ts) => {
    const text = Buffer.from(`${name}, seed ${fuzzSeed}: ${describe(args)}`, 'utf8').subarray(0, label.length);
    label.set(text);
    labelLength[0] = text.length;
    const started = performance.now();
    deadline[0] = Date.now() + hangMs;
    try {
      await body(...args);
    } finally {
      deadline[0] = 0;
    }
    const took = performance.now() - started;
    if (took > slowRunMs) throw new Error(`${name}: one run took ${Math.round(took)} ms (limit ${slowRunMs} ms)`);
  };
}

/** The run's input for the watchdog's message, cheaply: long strings and byte arrays are cut before printing. */
function describe(args: unknown[]): string {
  return fc.stringify(shorten(args, 4)).slice(0, 3000);
}

function shorten(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.length > 2000 ? `${value.slice(0, 2000)}…(${value.length} chars)` : value;
  if (value instanceof Uint8Array) return value.length > 600 ? `${fc.stringify(value.subarray(0, 600))}…(${value.length} bytes)` : value;
  if (depth === 0 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => shorten(v, depth - 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).slice(0, 100).map(([k, v]) => [k, shorten(v, depth - 1)]));
}

/** Whether an error is one the worker acts on deliberately: bad input with a code, or an unusable message. */
export function isTyped(err: unknown): boolean {
  return (err instanceof BadInputError && /^[A-Z][A-Z0-9_]+$/.test(err.code)) || err instanceof BadMessageError;
}

/** Runs `fn`; rethrows anything that is not a typed error, so the property fails on it. */
export async function typedOrValue<T>(fn: () => T | Promise<T>): Promise<{ value: T } | { error: BadInputError | BadMessageError }> {
  try {
    return { value: await fn() };
  } catch (err) {
    if (isTyped(err)) return { error: err as BadInputError | BadMessageError };
    throw err;
  }
}
