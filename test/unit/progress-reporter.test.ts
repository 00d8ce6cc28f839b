import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobStatus } from '../../src/contract/status-document.js';
import { formatStatus, progressLine } from '../../src/cli/format.js';
import { progressReporter } from '../../src/pipeline/progress-reporter.js';
import { applyTransition } from '../../src/pipeline/status-transitions.js';

type Written = { percent: number; estimatedFinishAt?: string };

function reporter(intervalMs = 3000) {
  let clock = 1_000_000;
  const writes: Written[] = [];
  let release: () => void = () => undefined;
  let hold = false;
  const r = progressReporter({
    intervalMs,
    now: () => clock,
    write: (p) => {
      writes.push(p);
      return hold ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
    },
  });
  return { r, writes, tick: (ms: number) => (clock += ms), holdWrites: (on: boolean) => (hold = on), release: () => release() };
}

test('writes are spaced by the interval, and the estimate extrapolates from the stage start', async () => {
  const { r, writes, tick } = reporter();
  tick(1000);
  r.report('ladder', 0.1);
  assert.deepEqual(writes, [{ percent: 10, estimatedFinishAt: new Date(1_000_000 + 10_000).toISOString() }]);
  tick(1000);
  r.report('ladder', 0.2);
  assert.equal(writes.length, 1, 'within the interval: not written');
  tick(2500);
  await Promise.resolve();
  r.report('ladder', 0.45);
  assert.equal(writes.length, 2);
  assert.equal(writes[1]?.percent, 45);
  assert.equal(writes[1]?.estimatedFinishAt, new Date(1_000_000 + 4500 / 0.45).toISOString());
});

test('the stage is as far as its slowest reporting task; nothing is written after stop', async () => {
  const { r, writes, tick } = reporter(0);
  r.report('ladder', 0);
  assert.deepEqual(writes, [{ percent: 0 }], 'nothing done yet: no estimate');
  tick(10);
  await Promise.resolve();
  r.report('ladder', 0.8);
  tick(10);
  await Promise.resolve();
  r.report('stills', 0.3);
  assert.deepEqual(writes.map((w) => w.percent), [0, 80, 30]);
  await r.stop();
  tick(10);
  r.report('ladder', 1);
  assert.equal(writes.length, 3);
});

test('one write at a time; stop waits for the one under way', async () => {
  const { r, writes, tick, holdWrites, release } = reporter(0);
  holdWrites(true);
  r.report('ladder', 0.1);
  tick(10);
  r.report('ladder', 0.2);
  assert.equal(writes.length, 1, 'a write is under way: the next report waits for a later one');
  let stopped = false;
  const stopping = r.stop().then(() => (stopped = true));
  await Promise.resolve();
  assert.equal(stopped, false);
  release();
  await stopping;
  assert.equal(stopped, true);
});

const input = { bucket: 'b', key: 'uploads/v.mp4' };
const running: JobStatus = {
  jobId: 'j',
  state: 'running',
  input,
  stages: { analysis: { state: 'running', attempts: 2, startedAt: '2026-12-02T10:00:00.000Z' } },
  outputs: {},
  updatedAt: '2026-12-02T10:00:00.000Z',
};
const progress = { percent: 40, estimatedFinishAt: '2026-12-02T10:05:00.000Z' };

test('progress is recorded only on the attempt that runs, and the stage end drops it', () => {
  const t = (attempt: number) => ({ type: 'stage-progress' as const, stage: 'analysis' as const, attempt, progress });
  const now = '2026-12-02T10:02:00.000Z';
  const written = applyTransition(running, { jobId: 'j', input }, t(2), now);
  assert.ok(written.changed);
  assert.deepEqual(written.status.stages.analysis?.progress, progress);
  assert.equal(applyTransition(running, { jobId: 'j', input }, t(1), now).changed, false, 'an older attempt');
  assert.equal(applyTransition(running, { jobId: 'j', input }, t(3), now).changed, false, 'an attempt not started');
  const done = applyTransition(written.status, { jobId: 'j', input }, { type: 'stage-succeeded', stage: 'analysis', attempt: 2, outputs: {}, last: true }, now);
  assert.ok(done.changed);
  assert.equal(done.status.stages.analysis?.progress, undefined);
  assert.equal(applyTransition(done.status, { jobId: 'j', input }, t(2), now).changed, false, 'after the end');
  const validation = applyTransition(running, { jobId: 'j', input }, { type: 'stage-progress', stage: 'validation', attempt: 2, progress }, now);
  assert.equal(validation.changed, false, 'a stage that is not running');
});

test('status and submit --wait show the percent and the estimated finish', () => {
  const withProgress: JobStatus = { ...running, stages: { analysis: { ...running.stages.analysis!, progress } } };
  assert.match(progressLine(withProgress), /analysis: running \(attempt 2\) 40%, done about 10:05:00 UTC/);
  assert.match(formatStatus(withProgress, 'b'), /analysis +running, attempt 2, 40% done, expected to finish 2026-12-02T10:05:00.000Z/);
});
