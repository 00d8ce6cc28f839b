import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { JobMessage } from '../../src/contract/job.js';
import { TaskRegistry } from '../../src/pipeline/registry.js';
import type { Task, TaskContext } from '../../src/pipeline/task.js';
import { runStageTasks } from '../../src/pipeline/task-runner.js';
import type { ObjectStore } from '../../src/storage/object-store.js';

const job = { jobId: 'j1', kind: 'csv', input: { bucket: 'b', key: 'k.csv' }, outputs: {} } as unknown as JobMessage;
const logger = pino({ level: 'silent' });

function task(name: string, run: (ctx: TaskContext) => Promise<void>): Task {
  return { name, run: async (ctx) => (await run(ctx), { outputs: { [name]: `out/${name}` } }) };
}

async function runIn(tasks: Task[]): Promise<{ seen: string[]; result: unknown }> {
  const root = await mkdtemp(join(tmpdir(), 'task-runner-'));
  const seen: string[] = [];
  const registry = new TaskRegistry(tasks.map((t) => ({ stage: 'validation' as const, kind: 'csv' as const, task: t })));
  const result = await runStageTasks({ registry, store: {} as ObjectStore, tmpRoot: root }, 'validation', job, new AbortController().signal, logger, undefined).catch((e: unknown) => e);
  seen.push(...(await readdir(root)));
  await rm(root, { recursive: true, force: true });
  return { seen, result };
}

test('a stage whose tasks never ask for their temp directory makes none', async () => {
  const quiet = (name: string) => task(name, async () => undefined);
  const { seen, result } = await runIn([quiet('a'), quiet('b')]);
  assert.deepEqual(result, { a: 'out/a', b: 'out/b' });
  assert.deepEqual(seen, [], 'nothing was created under the temp root');
});

test('a task that asks for its temp directory gets a private one, which is gone after the stage, on success and on failure', async () => {
  const dirs: string[] = [];
  const writes = (name: string, fail: boolean) =>
    task(name, async (ctx) => {
      dirs.push(ctx.tmpDir);
      assert.equal(ctx.tmpDir, dirs.at(-1), 'the same directory each time it is asked for');
      await writeFile(join(ctx.tmpDir, 'scratch'), 'x');
      if (fail) throw new Error('task failed');
    });
  const ok = await runIn([writes('a', false), writes('b', false)]);
  assert.deepEqual(ok.result, { a: 'out/a', b: 'out/b' });
  assert.notEqual(dirs[0], dirs[1], 'each task has its own directory');
  assert.deepEqual(ok.seen, [], 'removed after a successful stage');
  const failed = await runIn([writes('c', true)]);
  assert.match(String(failed.result), /task failed/);
  assert.deepEqual(failed.seen, [], 'removed after a failed stage');
});
