import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { finalStatus, jobStatus, putObject, queueDepth, sendRaw, startStack, type TestStack } from '../helpers/pipeline.js';
import { startChildWorker } from '../helpers/child-worker.js';

let stack: TestStack;
before(async () => {
  stack = await startStack({}, {});
});
after(() => stack.stop());

const workerEnv = (extra: Record<string, string>) => ({ ...stack.env, LOG_LEVEL: 'info', HTTP_PORT: '0', VISIBILITY_TIMEOUT_SECONDS: '5', ...extra });
const submitCsv = async (jobId: string) => {
  await putObject(stack.clients.s3, 'stageline', `uploads/${jobId}/data.csv`, 'a,b\n1,2\n');
  await sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ jobId, input: { key: `uploads/${jobId}/data.csv` } }));
};

test('kill -9 in the middle of a job loses nothing: a restarted worker finishes it', async () => {
  const first = startChildWorker(workerEnv({ SLOW_TASK_MS: '60000' }));
  await first.waitFor('worker-ready');
  await submitCsv('killed-1');
  await first.waitFor('task-started killed-1');
  first.proc.kill('SIGKILL');
  assert.equal((await first.exit).signal, 'SIGKILL');

  const second = startChildWorker(workerEnv({ SLOW_TASK_MS: '200' }));
  try {
    const status = await finalStatus(stack.store, 'killed-1', 30_000);
    assert.equal(status.state, 'succeeded');
    assert.equal(status.stages.validation?.attempts, 2, 'redelivered after the visibility timeout');
    assert.ok(status.outputs['slow.json']);
  } finally {
    second.proc.kill('SIGTERM');
    await second.exit;
  }
});

test('SIGTERM lets an in-flight job finish within the drain timeout, then exits 0', async () => {
  const worker = startChildWorker(workerEnv({ SLOW_TASK_MS: '1500', DRAIN_TIMEOUT_SECONDS: '20' }));
  await worker.waitFor('worker-ready');
  await submitCsv('drain-1');
  await worker.waitFor('task-started drain-1');
  worker.proc.kill('SIGTERM');
  const { code } = await worker.exit;
  assert.equal(code, 0);
  const status = await jobStatus(stack.store, 'drain-1');
  assert.equal(status?.stages.validation?.state, 'succeeded', 'the job finished before exit');
  // Its analysis message was sent before its validation message was deleted.
  assert.equal((await queueDepth(stack.clients.sqs, stack.emulator.queues.analysis.url)).visible, 1);
  assert.deepEqual(await queueDepth(stack.clients.sqs, stack.emulator.queues.validation.url), { visible: 0, inFlight: 0 });
});

test('past the drain timeout, SIGTERM aborts the job, makes its message visible again at once and exits within the drain timeout + 5 s', async () => {
  // The worker's own long poll, as in production: a receive under way must not hold the exit back.
  const worker = startChildWorker(workerEnv({ SLOW_TASK_MS: '60000', DRAIN_TIMEOUT_SECONDS: '1', STAGES: 'ingestion,validation', WAIT_TIME_SECONDS: 'default' }));
  await worker.waitFor('worker-ready');
  await submitCsv('abort-1');
  await worker.waitFor('task-started abort-1');
  const stoppedAt = Date.now();
  worker.proc.kill('SIGTERM');
  const { code } = await worker.exit;
  assert.equal(code, 0);
  const tookMs = Date.now() - stoppedAt;
  assert.ok(tookMs < 6000, `exited ${tookMs} ms after SIGTERM, DRAIN_TIMEOUT_SECONDS=1`);
  assert.ok(worker.output.some((l) => l.includes('released')), 'logs the release');
  // Visible now, not after the 5 s visibility timeout.
  assert.deepEqual(await queueDepth(stack.clients.sqs, stack.emulator.queues.validation.url), { visible: 1, inFlight: 0 });
});

test('SIGTERM during long polls swallows nothing: jobs sent meanwhile are picked up at once by the next worker', async () => {
  // A visibility timeout far above the test's patience: a swallowed message would sit out 120 s.
  const env = { VISIBILITY_TIMEOUT_SECONDS: '120', DRAIN_TIMEOUT_SECONDS: '5', WAIT_TIME_SECONDS: 'default', SLOW_TASK_MS: '50' };
  const idle = startChildWorker(workerEnv(env));
  await idle.waitFor('worker-ready');
  await new Promise((r) => setTimeout(r, 500)); // every loop is inside its long poll now
  idle.proc.kill('SIGTERM');
  const ids = Array.from({ length: 5 }, (_, i) => `term-${i}`);
  await Promise.all(ids.map((id) => putObject(stack.clients.s3, 'stageline', `uploads/${id}/data.csv`, 'a,b\n1,2\n')));
  const sentAt = Date.now();
  await Promise.all(ids.map((jobId) => sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ jobId, input: { key: `uploads/${jobId}/data.csv` } }))));
  // The stopping worker's long polls (DRAIN_TIMEOUT_SECONDS + 2 = 7 s) are still under way: the sends land in them.
  assert.ok(Date.now() - sentAt < 3000, 'all 5 sent while the stopping worker still long-polls');
  assert.equal((await idle.exit).code, 0);
  assert.ok(idle.output.some((l) => l.includes('released messages received while shutting down')), 'the stopping worker received them and gave them back');

  const fresh = startChildWorker(workerEnv(env));
  try {
    for (const id of ids) {
      const status = await finalStatus(stack.store, id, 30_000);
      assert.equal(status.state, 'succeeded');
    }
    const tookMs = Date.now() - sentAt;
    assert.ok(tookMs < 40_000, `all 5 done ${tookMs} ms after they were sent, far below the 120 s visibility timeout`);
  } finally {
    fresh.proc.kill('SIGTERM');
    await fresh.exit;
  }
});
