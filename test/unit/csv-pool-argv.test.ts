import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { threadExecArgv } from '../../src/tasks/csv/threads/csv-pool.js';

test('CSV threads get only the per-thread diagnostics of the process\'s options: no V8 or process-wide option, no loader', () => {
  const argv = ['--max-old-space-size=256', '--max-semi-space-size=4', '--stack-size=900', '--title=w', '--import', 'tsx', '--enable-source-maps', '--cpu-prof', '--cpu-prof-dir', '/tmp/p', '--heap-prof-interval=1024'];
  assert.deepEqual(threadExecArgv(argv), ['--enable-source-maps', '--cpu-prof', '--cpu-prof-dir', '/tmp/p', '--heap-prof-interval=1024']);
  assert.deepEqual(threadExecArgv(['--require', 'tsx/cjs', '--loader=tsx', '--expose-gc']), []);
});

test('every option passed on is one a worker thread accepts', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'thread-argv-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const kept = threadExecArgv(['--enable-source-maps', '--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-name=t.cpuprofile', '--cpu-prof-interval', '5000', '--heap-prof', '--heap-prof-dir', dir, '--heap-prof-name=t.heapprofile', '--heap-prof-interval=65536']);
  assert.equal(kept.length, 11);
  // Constructing the worker is where Node refuses an option (ERR_WORKER_INVALID_EXEC_ARGV).
  const worker = new Worker('', { eval: true, execArgv: kept });
  await once(worker, 'exit');
});
