import { mkdirSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import type { Logger } from 'pino';
import { AbortedError } from '../contract/errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { TaskRegistry } from './registry.js';
import type { Task } from './task.js';
import type { JobMessage } from '../contract/job.js';
import type { StageName } from '../contract/stages.js';

export interface TaskRunnerDeps {
  registry: TaskRegistry;
  store: ObjectStore;
  /** Where per-stage temp directories go; the OS temp dir by default. */
  tmpRoot?: string;
}

/**
 * Runs a stage's tasks for one job, concurrently, in a private temp directory that is removed on
 * every path. The first task to fail aborts its siblings; that first error is what the stage reports.
 */
export async function runStageTasks(
  deps: TaskRunnerDeps,
  stage: StageName,
  job: JobMessage,
  signal: AbortSignal,
  logger: Logger,
  onProgress: (task: string, fraction: number) => void = () => undefined,
): Promise<Record<string, string>> {
  const tasks = deps.registry.tasksFor(stage, job.kind);
  if (tasks.length === 0) return {};
  // Made on first use: most stages of small jobs never touch a file, and making and removing a
  // directory per stage was a measurable share of a tiny job's CPU (bench:jobs).
  let made: string | undefined;
  const stageDir = () => (made ??= mkdtempSync(join(deps.tmpRoot ?? tmpdir(), `stageline-${stage}-`)));
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let input: Promise<string> | undefined;
  const inputFile = () => {
    input ??= (async () => {
      const ext = extname(job.input.key).toLowerCase();
      const path = join(stageDir(), `input${/^\.[a-z0-9]{1,8}$/.test(ext) ? ext : ''}`);
      await deps.store.downloadToFile(job.input, path, controller.signal);
      return path;
    })();
    return input;
  };
  let firstError: unknown;
  const run = async (task: Task) => {
    let tmpDir: string | undefined;
    try {
      return await task.run({
        job,
        stage,
        store: deps.store,
        logger: logger.child({ task: task.name }),
        signal: controller.signal,
        get tmpDir() {
          if (tmpDir === undefined) {
            tmpDir = join(stageDir(), task.name);
            mkdirSync(tmpDir, { recursive: true });
          }
          return tmpDir;
        },
        inputFile,
        reportProgress: (fraction) => onProgress(task.name, fraction),
      });
    } catch (err) {
      if (firstError === undefined && !controller.signal.aborted) {
        firstError = err;
        controller.abort(new AbortedError(`sibling task ${task.name} failed`));
      }
      throw err;
    }
  };
  try {
    const results = await Promise.allSettled(tasks.map(run));
    if (signal.aborted) throw new AbortedError(`stage ${stage} interrupted`, { cause: signal.reason });
    const failure = firstError ?? results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
    if (failure !== undefined) throw failure;
    const outputs: Record<string, string> = {};
    for (const r of results) if (r.status === 'fulfilled') Object.assign(outputs, r.value.outputs);
    return outputs;
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (made) await rm(made, { recursive: true, force: true });
  }
}
