import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobIdentity, JobStatus } from '../../src/contract/status-document.js';
import { applyTransition, isDeadLettered, isFinal, type Transition, type TransitionResult } from '../../src/pipeline/status-transitions.js';

const job: JobIdentity = { jobId: 'j1', input: { bucket: 'b', key: 'uploads/j1/a.csv' }, kind: 'csv' };
const t0 = '2025-01-01T00:00:00.000Z';
const t1 = '2025-01-01T00:00:05.000Z';
const transientError = { code: 'TRANSIENT_ERROR', message: 'Attempt 1 failed and will be retried: 503' };

function doc(overrides: Partial<JobStatus> = {}): JobStatus {
  return { jobId: 'j1', kind: 'csv', state: 'running', input: job.input, stages: {}, outputs: {}, updatedAt: t0, ...overrides };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Applies to a frozen copy, so a transition that mutated its input would throw. */
function apply(current: JobStatus | undefined, t: Transition): TransitionResult {
  return applyTransition(current ? deepFreeze(structuredClone(current)) : undefined, job, t, t1);
}

function changed(result: TransitionResult): JobStatus & { becameFinal: boolean } {
  assert.ok(result.changed, `expected a change, got: ${result.changed ? '' : result.reason}`);
  return { ...result.status, becameFinal: result.becameFinal };
}

function refused(result: TransitionResult, reason: RegExp): void {
  assert.equal(result.changed, false, 'expected the transition to be refused');
  if (!result.changed) assert.match(result.reason, reason);
}

const allTransitions: Transition[] = [
  { type: 'stage-started', stage: 'validation', attempt: 9 },
  { type: 'stage-succeeded', stage: 'validation', attempt: 9, outputs: { x: 'k' }, last: false },
  { type: 'stage-succeeded', stage: 'analysis', attempt: 9, outputs: {}, last: true },
  { type: 'stage-retrying', stage: 'validation', attempt: 9, error: transientError },
  { type: 'stage-failed', stage: 'validation', attempt: 9, error: { code: 'CSV_EMPTY', message: 'empty' } },
  { type: 'dead-lettered', stage: 'validation' },
];

test('a job first written is created from its identity', () => {
  const s = changed(apply(undefined, { type: 'stage-started', stage: 'ingestion', attempt: 1 }));
  assert.equal(s.jobId, 'j1');
  assert.deepEqual(s.input, job.input);
  assert.equal(s.kind, 'csv');
  assert.equal(s.state, 'running');
  assert.deepEqual(s.stages.ingestion, { state: 'running', attempts: 1, startedAt: t1 });
  assert.equal(s.updatedAt, t1);
  assert.equal(s.becameFinal, false);
});

test('final states stay final: succeeded, failed and cancelled refuse every transition', () => {
  const finals = [
    doc({ state: 'succeeded' }),
    doc({ state: 'failed', error: { code: 'CSV_EMPTY', message: 'empty', stage: 'validation' } }),
    doc({ state: 'cancelled' }),
  ];
  for (const current of finals) {
    assert.ok(isFinal(current));
    for (const t of allTransitions) refused(apply(current, t), new RegExp(`already ${current.state}`));
  }
  assert.ok(!isFinal(doc({ state: 'scheduled' })) && !isFinal(doc({ state: 'queued' })) && !isFinal(doc()));
});

test('a dead-lettered job is reopened by a stage start (a redrive): a new attempt history for that stage', () => {
  const dead = doc({
    state: 'failed',
    stages: {
      ingestion: { state: 'succeeded', attempts: 1 },
      validation: { state: 'failed', attempts: 3, error: { code: 'DEAD_LETTERED', message: 'gave up' } },
    },
    error: { code: 'DEAD_LETTERED', message: 'gave up', stage: 'validation' },
  });
  assert.ok(isDeadLettered(dead) && isFinal(dead));
  const s = changed(apply(dead, { type: 'stage-started', stage: 'validation', attempt: 1 }));
  assert.equal(s.state, 'running');
  assert.equal(s.error, undefined);
  assert.deepEqual(s.stages.validation, { state: 'running', attempts: 1, startedAt: t1 }, 'the old attempts and error are gone');
  assert.equal(s.stages.ingestion?.state, 'succeeded');
  assert.equal(s.becameFinal, false);

  // Anything but a start leaves it dead-lettered, and so does a start the rules refuse.
  for (const t of allTransitions.filter((x) => x.type !== 'stage-started')) refused(apply(dead, t), /already failed/);
  refused(apply(dead, { type: 'stage-started', stage: 'ingestion', attempt: 1 }), /ingestion stage already succeeded/);
  // A job failed for any other reason is not reopened.
  const bad = doc({ state: 'failed', error: { code: 'CSV_EMPTY', message: 'empty', stage: 'validation' } });
  refused(apply(bad, { type: 'stage-started', stage: 'validation', attempt: 1 }), /already failed/);
});

test('stage start: a later attempt replaces running or retrying, keeping the last error; nothing goes back', () => {
  const retrying = doc({ stages: { validation: { state: 'retrying', attempts: 1, startedAt: t0, error: transientError } } });
  const s = changed(apply(retrying, { type: 'stage-started', stage: 'validation', attempt: 2 }));
  assert.deepEqual(s.stages.validation, { state: 'running', attempts: 2, startedAt: t1, error: transientError });

  refused(apply(retrying, { type: 'stage-started', stage: 'validation', attempt: 1 }), /attempt 1 .* already recorded/);
  const running = doc({ stages: { validation: { state: 'running', attempts: 3, startedAt: t0 } } });
  refused(apply(running, { type: 'stage-started', stage: 'validation', attempt: 2 }), /attempt 3 .* already recorded/);
  const succeeded = doc({ stages: { validation: { state: 'succeeded', attempts: 1 } } });
  refused(apply(succeeded, { type: 'stage-started', stage: 'validation', attempt: 2 }), /already succeeded/);
  const moved = doc({ stages: { validation: { state: 'running', attempts: 1 }, analysis: { state: 'running', attempts: 1 } } });
  refused(apply(moved, { type: 'stage-started', stage: 'validation', attempt: 2 }), /moved past the validation stage/);
  // A scheduled or queued job starts running.
  assert.equal(changed(apply(doc({ state: 'scheduled' }), { type: 'stage-started', stage: 'ingestion', attempt: 1 })).state, 'running');
});

test('stage success wins from any attempt, once; the last stage makes the job succeed', () => {
  const running = doc({ outputs: { 'a.json': 'k/a' }, stages: { validation: { state: 'running', attempts: 3, startedAt: t0, error: transientError } } });
  // A slow first attempt finishing while attempt 3 runs: the work was done.
  const s = changed(apply(running, { type: 'stage-succeeded', stage: 'validation', attempt: 1, outputs: { 'b.json': 'k/b' }, last: false }));
  assert.deepEqual(s.stages.validation, { state: 'succeeded', attempts: 3, startedAt: t0, finishedAt: t1, durationMs: 5000 });
  assert.deepEqual(s.outputs, { 'a.json': 'k/a', 'b.json': 'k/b' });
  assert.equal(s.state, 'running');
  assert.equal(s.becameFinal, false);

  refused(apply(s, { type: 'stage-succeeded', stage: 'validation', attempt: 3, outputs: {}, last: false }), /already succeeded/);

  const last = changed(apply(doc({ stages: { analysis: { state: 'running', attempts: 1, startedAt: t0 } } }), { type: 'stage-succeeded', stage: 'analysis', attempt: 1, outputs: {}, last: true }));
  assert.equal(last.state, 'succeeded');
  assert.equal(last.becameFinal, true);
});

test('stage retrying: records the attempt and its error, never over a newer attempt or a finished stage', () => {
  const running = doc({ stages: { validation: { state: 'running', attempts: 2, startedAt: t0 } } });
  const s = changed(apply(running, { type: 'stage-retrying', stage: 'validation', attempt: 2, error: transientError }));
  assert.deepEqual(s.stages.validation, { state: 'retrying', attempts: 2, startedAt: t0, finishedAt: t1, durationMs: 5000, error: transientError });
  assert.equal(s.state, 'running');
  assert.equal(s.becameFinal, false);

  refused(apply(s, { type: 'stage-retrying', stage: 'validation', attempt: 2, error: transientError }), /already recorded as retrying/);
  refused(apply(running, { type: 'stage-retrying', stage: 'validation', attempt: 1, error: transientError }), /attempt 2 .* newer than attempt 1/);
  refused(apply(doc({ stages: { validation: { state: 'succeeded', attempts: 1 } } }), { type: 'stage-retrying', stage: 'validation', attempt: 2, error: transientError }), /already succeeded/);
  refused(apply(doc({ stages: { ingestion: { state: 'running', attempts: 1 }, validation: { state: 'running', attempts: 1 } } }), { type: 'stage-retrying', stage: 'ingestion', attempt: 1, error: transientError }), /moved past the ingestion stage/);
});

test('stage failed (bad input): the job fails for good, once', () => {
  const error = { code: 'CSV_EMPTY', message: 'The CSV is empty.' };
  const running = doc({ stages: { validation: { state: 'running', attempts: 1, startedAt: t0 } } });
  const s = changed(apply(running, { type: 'stage-failed', stage: 'validation', attempt: 1, error }));
  assert.equal(s.stages.validation?.state, 'failed');
  assert.deepEqual(s.stages.validation?.error, error);
  assert.equal(s.state, 'failed');
  assert.deepEqual(s.error, { ...error, stage: 'validation' });
  assert.equal(s.becameFinal, true);

  const newer = doc({ stages: { validation: { state: 'running', attempts: 2, startedAt: t0 } } });
  refused(apply(newer, { type: 'stage-failed', stage: 'validation', attempt: 1, error }), /newer than attempt 1/);
  refused(apply(doc({ stages: { validation: { state: 'succeeded', attempts: 1 } } }), { type: 'stage-failed', stage: 'validation', attempt: 1, error }), /already succeeded/);
});

test('dead-lettered: the job fails with DEAD_LETTERED and the last known error, unless the stage is already past', () => {
  const retrying = doc({ stages: { validation: { state: 'retrying', attempts: 2, startedAt: t0, error: { code: 'TRANSIENT_ERROR', message: 'Attempt 2 failed: always unavailable' } } } });
  const s = changed(apply(retrying, { type: 'dead-lettered', stage: 'validation' }));
  assert.equal(s.state, 'failed');
  assert.equal(s.becameFinal, true);
  assert.equal(s.stages.validation?.state, 'failed');
  assert.equal(s.stages.validation?.attempts, 2);
  assert.equal(s.error?.code, 'DEAD_LETTERED');
  assert.equal(s.error?.stage, 'validation');
  assert.deepEqual(s.stages.validation?.error, { code: s.error?.code, message: s.error?.message });
  assert.match(s.error?.message ?? '', /after 2 attempts/);
  assert.match(s.error?.message ?? '', /Last error: TRANSIENT_ERROR: Attempt 2 failed: always unavailable/);
  assert.match(s.error?.message ?? '', /stageline dlq validation --redrive/);

  // A crash loop: the stage says running and no attempt left a word.
  const crashed = changed(apply(doc({ stages: { validation: { state: 'running', attempts: 2, startedAt: t0 } } }), { type: 'dead-lettered', stage: 'validation' }));
  assert.match(crashed.error?.message ?? '', /worker stopped on every attempt \(crash, out of memory or kill\)/);
  // The last attempt crashed after an earlier one failed: both are told.
  const mixed = changed(apply(doc({ stages: { validation: { state: 'running', attempts: 2, startedAt: t0, error: transientError } } }), { type: 'dead-lettered', stage: 'validation' }));
  assert.match(mixed.error?.message ?? '', /last attempt ended without an outcome.*the error before it: TRANSIENT_ERROR/);
  // No document at all (the worker died before its first write): one is created, failed.
  const none = changed(apply(undefined, { type: 'dead-lettered', stage: 'ingestion' }));
  assert.equal(none.state, 'failed');
  assert.deepEqual(none.input, job.input);
  assert.match(none.error?.message ?? '', /no attempt was ever recorded/);

  // A leftover copy of a message whose stage succeeded, or whose job moved on, changes nothing.
  refused(apply(doc({ stages: { validation: { state: 'succeeded', attempts: 1 } } }), { type: 'dead-lettered', stage: 'validation' }), /leftover copy/);
  refused(apply(doc({ stages: { validation: { state: 'running', attempts: 1 }, analysis: { state: 'running', attempts: 1 } } }), { type: 'dead-lettered', stage: 'validation' }), /moved past/);
  // Recorded once: the second watcher to see it changes nothing.
  refused(apply(s, { type: 'dead-lettered', stage: 'validation' }), /already failed/);
});
