/**
 * A real worker process (the CLI's runWorker, signals and all) whose validation stage runs a task
 * that takes SLOW_TASK_MS: lets tests kill or stop a worker in the middle of a job. REAL_TASKS=1 runs
 * the real tasks of every kind instead.
 */
import { loadConfig } from '../../src/contract/env.js';
import { runWorker } from '../../src/cli/commands/worker.js';
import { createLogger } from '../../src/daemon/logger.js';
import { TaskRegistry } from '../../src/pipeline/registry.js';
import { RecordingTask } from './recording-task.js';

const config = loadConfig();
const delayMs = Number(process.env.SLOW_TASK_MS ?? 3000);
const slow = new RecordingTask('slow', async (ctx) => {
  process.stdout.write(`task-started ${ctx.job.jobId}\n`);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, delayMs);
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    });
  });
});
const registry = new TaskRegistry().register('validation', 'csv', slow);
// WAIT_TIME_SECONDS=default keeps the worker's own long poll (as in production); otherwise 1 s for quick tests.
const wait = process.env.WAIT_TIME_SECONDS ?? '1';
const tasks = process.env.REAL_TASKS === '1' ? {} : { registry };
const worker = await runWorker(config, createLogger(config.LOG_LEVEL), { worker: { ...tasks, ...(wait === 'default' ? {} : { waitTimeSeconds: Number(wait) }) } });
process.stdout.write(`worker-ready ${worker.httpPort}\n`);
