/**
 * Issue 15 item 6: a long video ladder holds its message while it runs, and SIGTERM past the drain kills
 * ffmpeg and releases the message at once; the next worker finishes the job.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ffmpegMake } from '../helpers/audio-media.js';
import { startChildWorker } from '../helpers/child-worker.js';
import { eventually, finalStatus, jobStatus, putObject, queueDepth, sendRaw, startStack, type TestStack } from '../helpers/pipeline.js';

let stack: TestStack;
let dir: string;
before(async () => {
  stack = await startStack();
  dir = await mkdtemp(join(tmpdir(), 'video-shutdown-'));
});
after(async () => {
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The pids of a process's children that are ffmpeg. */
function ffmpegChildren(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => /ffmpeg/.test(line))
      .map((line) => Number(line.trim().split(/\s+/)[0]));
  } catch {
    return []; // ps exits 1 when there is no child
  }
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('SIGTERM during a ladder past the drain kills ffmpeg, releases the message at once, and the next worker finishes the job', async () => {
  // 40 s of 640x360: a ladder that outlasts a 1 s drain on any machine.
  const clip = await ffmpegMake(dir, 'long.mp4', ['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25:duration=40', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p']);
  await putObject(stack.clients.s3, stack.emulator.bucket, 'uploads/long/long.mp4', await readFile(clip));
  const env = { ...stack.env, LOG_LEVEL: 'info', HTTP_PORT: '0', REAL_TASKS: '1', DRAIN_TIMEOUT_SECONDS: '1', VISIBILITY_TIMEOUT_SECONDS: '20' };
  const worker = startChildWorker(env);
  await worker.waitFor('worker-ready');
  await sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ jobId: 'video-term', input: { key: 'uploads/long/long.mp4' }, video: { ladder: ['360p', '240p'] } }));
  const pid = worker.proc.pid ?? 0;
  const encoders = await eventually(async () => {
    const status = await jobStatus(stack.store, 'video-term');
    const running = status?.stages.analysis?.state === 'running';
    const children = ffmpegChildren(pid);
    return running && children.length > 0 ? children : undefined;
  }, 'the analysis stage running ffmpeg', 60_000, 100);
  const stoppedAt = Date.now();
  worker.proc.kill('SIGTERM');
  const { code } = await worker.exit;
  assert.equal(code, 0);
  assert.ok(Date.now() - stoppedAt < 6_000, `exited ${Date.now() - stoppedAt} ms after SIGTERM, DRAIN_TIMEOUT_SECONDS=1`);
  assert.deepEqual(encoders.filter(alive), [], 'no ffmpeg outlives its worker');
  assert.deepEqual(await queueDepth(stack.clients.sqs, stack.emulator.queues.analysis.url), { visible: 1, inFlight: 0 }, 'released at once, not after the 20 s visibility timeout');
  assert.equal((await jobStatus(stack.store, 'video-term'))?.state, 'running', 'an interrupted job is not failed');

  const next = startChildWorker({ ...env, DRAIN_TIMEOUT_SECONDS: '20' });
  try {
    const status = await finalStatus(stack.store, 'video-term', 120_000);
    assert.equal(status.state, 'succeeded', JSON.stringify(status));
    assert.ok(status.outputs['video/master.m3u8']);
  } finally {
    next.proc.kill('SIGTERM');
    await next.exit;
  }
});
