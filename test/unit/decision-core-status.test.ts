import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { applyTransition, isDeadLettered, isFinal, type Transition, type TransitionResult } from '../../src/pipeline/status-transitions.js';

// Types taken from the transition module itself, so this file does not depend on where the schema lives.
type JobStatus = TransitionResult['status'];
type JobIdentity = Parameters<typeof applyTransition>[1];
type StageStatus = NonNullable<JobStatus['stages']['validation']>;
type StageName = Extract<Transition, { stage: unknown }>['stage'];

const job: JobIdentity = { jobId: 'j1', input: { bucket: 'b', key: 'uploads/j1/a.csv' }, kind: 'csv' };
const t0 = '2025-01-01T00:00:00.000Z';
const now = '2025-01-01T00:00:05.000Z';
const transient = { code: 'TRANSIENT_ERROR', message: '503' };
const ingested: StageStatus = { state: 'succeeded', attempts: 1, startedAt: t0, finishedAt: t0, durationMs: 0 };

function doc(overrides: Partial<JobStatus> = {}): JobStatus {
  return { jobId: 'j1', kind: 'csv', state: 'running', input: job.input, stages: { ingestion: ingested }, outputs: {}, updatedAt: t0, ...overrides };
}
const withValidation = (v: StageStatus, extra: Partial<JobStatus['stages']> = {}): JobStatus => doc({ stages: { ingestion: ingested, validation: v, ...extra } });

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Applies to a frozen copy: a transition that mutated its input would throw. */
const apply = (current: JobStatus | undefined, t: Transition): TransitionResult =>
  applyTransition(current ? deepFreeze(structuredClone(current)) : undefined, job, t, now);

const states: Record<string, JobStatus | undefined> = {
  'no document': undefined,
  scheduled: doc({ state: 'scheduled', stages: {} }),
  queued: doc({ state: 'queued', stages: {} }),
  'running, validation not started': doc(),
  'validation queued@2': withValidation({ state: 'queued', attempts: 2 }),
  'validation running@2': withValidation({ state: 'running', attempts: 2, startedAt: t0 }),
  'validation retrying@2': withValidation({ state: 'retrying', attempts: 2, startedAt: t0, finishedAt: t0, durationMs: 0, error: transient }),
  'validation succeeded@2': withValidation({ state: 'succeeded', attempts: 2, startedAt: t0, finishedAt: t0, durationMs: 0 }),
  'analysis started, validation running@2': withValidation({ state: 'running', attempts: 2, startedAt: t0 }, { analysis: { state: 'running', attempts: 1, startedAt: t0 } }),
  'job succeeded': doc({ state: 'succeeded' }),
  'job failed (bad input)': doc({
    state: 'failed',
    stages: { ingestion: ingested, validation: { state: 'failed', attempts: 2, error: { code: 'CSV_EMPTY', message: 'empty' } } },
    error: { code: 'CSV_EMPTY', message: 'empty', stage: 'validation' },
  }),
  'job cancelled': doc({ state: 'cancelled', stages: {} }),
  'job dead-lettered at validation@2': doc({
    state: 'failed',
    stages: { ingestion: ingested, validation: { state: 'failed', attempts: 2, error: { code: 'DEAD_LETTERED', message: 'gave up' } } },
    error: { code: 'DEAD_LETTERED', message: 'gave up', stage: 'validation' },
  }),
};

const v = 'validation' as const;
const transitions: Record<string, Transition> = {
  'start@1': { type: 'stage-started', stage: v, attempt: 1 },
  'start@2': { type: 'stage-started', stage: v, attempt: 2 },
  'start@3': { type: 'stage-started', stage: v, attempt: 3 },
  'succeed@1': { type: 'stage-succeeded', stage: v, attempt: 1, outputs: { 'report.json': 'k/r' }, last: false },
  'succeed@1 last': { type: 'stage-succeeded', stage: v, attempt: 1, outputs: {}, last: true },
  'retry@1': { type: 'stage-retrying', stage: v, attempt: 1, error: transient },
  'retry@2': { type: 'stage-retrying', stage: v, attempt: 2, error: transient },
  'retry@3': { type: 'stage-retrying', stage: v, attempt: 3, error: transient },
  'fail@1': { type: 'stage-failed', stage: v, attempt: 1, error: { code: 'CSV_EMPTY', message: 'empty' } },
  'fail@2': { type: 'stage-failed', stage: v, attempt: 2, error: { code: 'CSV_EMPTY', message: 'empty' } },
  'fail@3': { type: 'stage-failed', stage: v, attempt: 3, error: { code: 'CSV_EMPTY', message: 'empty' } },
  'dead-lettered': { type: 'dead-lettered', stage: v },
};
const columns = Object.keys(transitions);

/**
 * Expected cell: `-` refused, else `<job state>/<validation state>@<attempts>`, `!` when that write made
 * the job final. Columns in the order of `transitions`.
 */
const _ = '-';
const expected: Record<string, string[]> = {
  //                                         start@1              start@2              start@3              succeed@1              succeed@1 last            retry@1             retry@2             retry@3             fail@1             fail@2             fail@3             dead-lettered
  'no document':                            ['running/running@1', 'running/running@2', 'running/running@3', 'running/succeeded@1', 'succeeded/succeeded@1!', 'queued/retrying@1', 'queued/retrying@2', 'queued/retrying@3', 'failed/failed@1!', 'failed/failed@2!', 'failed/failed@3!', 'failed/failed@0!'],
  scheduled:                                ['running/running@1', 'running/running@2', 'running/running@3', 'running/succeeded@1', 'succeeded/succeeded@1!', 'scheduled/retrying@1', 'scheduled/retrying@2', 'scheduled/retrying@3', 'failed/failed@1!', 'failed/failed@2!', 'failed/failed@3!', 'failed/failed@0!'],
  queued:                                   ['running/running@1', 'running/running@2', 'running/running@3', 'running/succeeded@1', 'succeeded/succeeded@1!', 'queued/retrying@1', 'queued/retrying@2', 'queued/retrying@3', 'failed/failed@1!', 'failed/failed@2!', 'failed/failed@3!', 'failed/failed@0!'],
  'running, validation not started':        ['running/running@1', 'running/running@2', 'running/running@3', 'running/succeeded@1', 'succeeded/succeeded@1!', 'running/retrying@1', 'running/retrying@2', 'running/retrying@3', 'failed/failed@1!', 'failed/failed@2!', 'failed/failed@3!', 'failed/failed@0!'],
  'validation queued@2':                    [_, _, 'running/running@3', 'running/succeeded@2', 'succeeded/succeeded@2!', _, 'running/retrying@2', 'running/retrying@3', _, 'failed/failed@2!', 'failed/failed@3!', 'failed/failed@2!'],
  'validation running@2':                   [_, _, 'running/running@3', 'running/succeeded@2', 'succeeded/succeeded@2!', _, 'running/retrying@2', 'running/retrying@3', _, 'failed/failed@2!', 'failed/failed@3!', 'failed/failed@2!'],
  'validation retrying@2':                  [_, _, 'running/running@3', 'running/succeeded@2', 'succeeded/succeeded@2!', _, _, 'running/retrying@3', _, 'failed/failed@2!', 'failed/failed@3!', 'failed/failed@2!'],
  'validation succeeded@2':                 [_, _, _, _, _, _, _, _, _, _, _, _],
  // Past the stage: only its success may still be written.
  'analysis started, validation running@2': [_, _, _, 'running/succeeded@2', 'succeeded/succeeded@2!', _, _, _, _, _, _, _],
  'job succeeded':                          [_, _, _, _, _, _, _, _, _, _, _, _],
  'job failed (bad input)':                 [_, _, _, _, _, _, _, _, _, _, _, _],
  'job cancelled':                          [_, _, _, _, _, _, _, _, _, _, _, _],
  // A redrive: any start reopens, with a new attempt history; nothing else touches it.
  'job dead-lettered at validation@2':      ['running/running@1', 'running/running@2', 'running/running@3', _, _, _, _, _, _, _, _, _],
};

const rank = (state: JobStatus['state']): number => (state === 'scheduled' || state === 'queued' ? 0 : state === 'running' ? 1 : 2);

test('state machine: expected table covers every state × every transition', () => {
  assert.deepEqual(Object.keys(expected).sort(), Object.keys(states).sort());
  for (const [name, row] of Object.entries(expected)) assert.equal(row.length, columns.length, name);
});

for (const [stateName, before] of Object.entries(states)) {
  test(`state machine: from ${stateName}`, () => {
    const row = expected[stateName];
    assert.ok(row);
    columns.forEach((column, i) => {
      const t = transitions[column];
      const want = row[i];
      assert.ok(t && want);
      const where = `${stateName} × ${column}`;
      const result = apply(before, t);
      if (want === _) {
        assert.equal(result.changed, false, `${where}: expected a refusal`);
        if (!result.changed) assert.ok(result.reason.length > 0, `${where}: a refusal says why`);
        // Refused: the document as it stands (for no document, the one a first write would start from).
        const standing = before ?? { jobId: job.jobId, state: 'queued', input: job.input, stages: {}, outputs: {}, updatedAt: now };
        assert.deepEqual(result.status, standing, `${where}: unchanged`);
        return;
      }
      assert.ok(result.changed, `${where}: expected a change, got ${result.changed ? '' : result.reason}`);
      const m = /^(\w+)\/(\w+)@(\d+)(!?)$/.exec(want);
      assert.ok(m, `bad cell ${want}`);
      const after = result.status;
      assert.equal(after.state, m[1], `${where}: job state`);
      assert.equal(after.stages.validation?.state, m[2], `${where}: stage state`);
      assert.equal(after.stages.validation?.attempts, Number(m[3]), `${where}: attempts`);
      assert.equal(result.becameFinal, m[4] === '!', `${where}: becameFinal`);
      assert.equal(after.updatedAt, now, `${where}: updatedAt`);
      assert.equal(after.kind, 'csv');

      // Nothing goes backwards, except the redrive of a dead-lettered job (documented).
      const reopened = before !== undefined && isDeadLettered(before);
      if (!reopened) {
        assert.ok(rank(after.state) >= rank(before?.state ?? 'queued'), `${where}: job state went back`);
        const old = before?.stages.validation?.attempts ?? 0;
        assert.ok((after.stages.validation?.attempts ?? 0) >= old, `${where}: attempts went back`);
      }
      // Other stages are untouched.
      assert.deepEqual(after.stages.ingestion, before?.stages.ingestion, `${where}: ingestion`);
      assert.deepEqual(after.stages.analysis, before?.stages.analysis, `${where}: analysis`);
      // A failed stage only ever exists in a failed job; a failed job names its stage.
      if (after.stages.validation?.state === 'failed') assert.equal(after.state, 'failed', where);
      if (after.state === 'failed') assert.equal(after.error?.stage, 'validation', where);
      else assert.equal(after.error, undefined, where);
      // A redelivered write (the same transition again) changes nothing.
      assert.equal(apply(after, t).changed, false, `${where}: applied twice`);
    });
  });
}

test('isFinal and isDeadLettered for every job state', () => {
  const dl = { code: 'DEAD_LETTERED', message: 'gave up', stage: 'validation' as const };
  const cases: [string, JobStatus, boolean, boolean][] = [
    ['scheduled', doc({ state: 'scheduled' }), false, false],
    ['queued', doc({ state: 'queued' }), false, false],
    ['running', doc({ state: 'running' }), false, false],
    ['succeeded', doc({ state: 'succeeded' }), true, false],
    ['cancelled', doc({ state: 'cancelled' }), true, false],
    ['failed (bad input)', doc({ state: 'failed', error: { code: 'CSV_EMPTY', message: 'empty', stage: 'validation' } }), true, false],
    ['failed (dead-lettered)', doc({ state: 'failed', error: dl }), true, true],
    // The error code alone does not make a job dead-lettered: it must also have failed.
    ['running with a DEAD_LETTERED error', doc({ state: 'running', error: dl }), false, false],
  ];
  for (const [name, status, final, dead] of cases) {
    assert.equal(isFinal(status), final, `isFinal(${name})`);
    assert.equal(isDeadLettered(status), dead, `isDeadLettered(${name})`);
  }
});

test('state machine: a refused or accepted transition leaves other stages and outputs as they were', () => {
  const before = withValidation({ state: 'running', attempts: 1, startedAt: t0 });
  before.outputs = { 'a.json': 'k/a' };
  const s = apply(before, { type: 'stage-succeeded', stage: 'validation', attempt: 1, outputs: { 'a.json': 'k/a2', 'b.json': 'k/b' }, last: false });
  assert.ok(s.changed);
  // Outputs merge; a later write of the same name wins (a redone stage wrote it again).
  assert.deepEqual(s.status.outputs, { 'a.json': 'k/a2', 'b.json': 'k/b' });
  const refusedSucceed = apply(s.status, { type: 'stage-succeeded', stage: 'validation', attempt: 2, outputs: { 'c.json': 'k/c' }, last: false });
  assert.equal(refusedSucceed.changed, false);
  assert.deepEqual(refusedSucceed.status.outputs, { 'a.json': 'k/a2', 'b.json': 'k/b' }, 'a refused success adds no outputs');
});

const stageNames: StageName[] = ['ingestion', 'validation', 'analysis'];
const arbTransition: fc.Arbitrary<Transition> = fc.oneof(
  fc.record({ type: fc.constant('stage-started' as const), stage: fc.constantFrom(...stageNames), attempt: fc.integer({ min: 1, max: 4 }) }),
  fc.record({
    type: fc.constant('stage-succeeded' as const),
    stage: fc.constantFrom(...stageNames),
    attempt: fc.integer({ min: 1, max: 4 }),
    outputs: fc.constant({}),
    last: fc.boolean(),
  }),
  fc.record({ type: fc.constant('stage-retrying' as const), stage: fc.constantFrom(...stageNames), attempt: fc.integer({ min: 1, max: 4 }), error: fc.constant(transient) }),
  fc.record({
    type: fc.constant('stage-failed' as const),
    stage: fc.constantFrom(...stageNames),
    attempt: fc.integer({ min: 1, max: 4 }),
    error: fc.constant({ code: 'CSV_EMPTY', message: 'empty' }),
  }),
  fc.record({ type: fc.constant('dead-lettered' as const), stage: fc.constantFrom(...stageNames) }),
  fc.constant({ type: 'queued' as const }),
  fc.record({ type: fc.constant('scheduled' as const), runAt: fc.constant('2025-01-01T01:00:00.000Z') }),
  fc.constant({ type: 'cancelled' as const }),
  fc.record({ type: fc.constant('deduplicated' as const), duplicateOf: fc.constant('other-job') }),
  fc.constant({ type: 'retried' as const }),
);

test('state machine: over any sequence of writes, nothing goes backwards', () => {
  fc.assert(
    fc.property(fc.array(arbTransition, { maxLength: 30 }), (sequence) => {
      let current: JobStatus | undefined;
      for (const t of sequence) {
        const before = current;
        const result = apply(before, t);
        const after = result.status;
        // A redrive or a retry reopens a failed job (documented): the only ways back.
        const reopened = before !== undefined && (isDeadLettered(before) || t.type === 'retried') && result.changed;
        if (before && isFinal(before) && t.type !== 'retried' && !(t.type === 'stage-started' && isDeadLettered(before))) {
          assert.equal(result.changed, false, 'a final job stays final');
        }
        if (t.type === 'retried') assert.equal(result.changed, before?.state === 'failed', 'only a failed job is retried');
        if (!result.changed) {
          if (before) assert.deepEqual(after, before, 'a refusal changes nothing');
          current = after;
          continue;
        }
        assert.equal(result.becameFinal, isFinal(after), 'becameFinal is the write that made the job final');
        if (!reopened) assert.ok(rank(after.state) >= rank(before?.state ?? 'queued'), `job ${before?.state} -> ${after.state}`);
        for (const stage of stageNames) {
          const was = before?.stages[stage];
          const is = after.stages[stage];
          // Only the redriven stage's record is dropped, and only by a redrive.
          const redriven = reopened && before?.error?.stage === stage;
          if (was && !is) assert.ok(redriven, `${stage} record dropped`);
          // A redriven stage starts a new attempt history (documented); every other record only moves on.
          if (!was || !is || redriven) continue;
          if (was.state === 'succeeded') assert.deepEqual(is, was, `${stage}: a succeeded stage is final`);
          assert.ok(is.attempts >= was.attempts, `${stage}: attempts ${was.attempts} -> ${is.attempts}`);
          // Past a stage, its record only changes to succeeded (a redrive drops the later record first).
          const later = !reopened && stageNames.slice(stageNames.indexOf(stage) + 1).some((l) => before?.stages[l] !== undefined);
          if (later && JSON.stringify(is) !== JSON.stringify(was)) assert.equal(is.state, 'succeeded', `${stage} changed after a later stage started`);
        }
        for (const stage of stageNames) if (after.stages[stage]?.state === 'failed') assert.equal(after.state, 'failed', `${stage} failed in a ${after.state} job`);
        current = after;
      }
    }),
    { seed: 0x5ec12, numRuns: 500 },
  );
});

// Before any stage (contract section 7): creating writes only create; cancel only ends a scheduled job.
const runAt = '2025-01-01T01:00:00.000Z';
const beforeStages: Record<string, Transition> = {
  queued: { type: 'queued' },
  scheduled: { type: 'scheduled', runAt },
  cancelled: { type: 'cancelled' },
  deduplicated: { type: 'deduplicated', duplicateOf: 'other-job' },
};
/** Expected: `-` refused, else the job state after it, `!` when that write made the job final. */
const expectedBeforeStages: Record<string, Record<string, string>> = {
  'no document': { queued: 'queued', scheduled: 'scheduled', cancelled: _, deduplicated: 'cancelled!' },
  scheduled: { queued: _, scheduled: _, cancelled: 'cancelled!', deduplicated: _ },
  // A schedule's tick created it; its request may still turn out a duplicate.
  queued: { queued: _, scheduled: _, cancelled: _, deduplicated: 'cancelled!' },
};

test('state machine: queued, scheduled, cancelled and deduplicated from every state', () => {
  for (const [stateName, before] of Object.entries(states)) {
    for (const [name, t] of Object.entries(beforeStages)) {
      const where = `${stateName} × ${name}`;
      const want = expectedBeforeStages[stateName]?.[name] ?? _;
      const result = apply(before, t);
      if (want === _) {
        assert.equal(result.changed, false, `${where}: expected a refusal`);
        if (!result.changed) assert.ok(result.reason.length > 0, `${where}: a refusal says why`);
        continue;
      }
      assert.ok(result.changed, `${where}: expected a change, got ${result.changed ? '' : result.reason}`);
      assert.equal(result.status.state, want.replace('!', ''), where);
      assert.equal(result.becameFinal, want.endsWith('!'), `${where}: becameFinal`);
      assert.equal(apply(result.status, t).changed, false, `${where}: applied twice`);
    }
  }
  const scheduled = apply(undefined, beforeStages.scheduled!);
  assert.equal(scheduled.status.runAt, runAt, 'a scheduled job records its runAt');
  const started = apply(scheduled.status, { type: 'stage-started', stage: 'ingestion', attempt: 1 });
  assert.equal(started.status.state, 'running', 'its first stage start moves it to running');
  assert.equal(apply(started.status, beforeStages.cancelled!).changed, false, 'a started job cannot be cancelled');
  const dedup = apply(undefined, beforeStages.deduplicated!);
  assert.equal(dedup.status.duplicateOf, 'other-job', 'a duplicate names the job that covers it');
  assert.equal(apply(dedup.status, { type: 'stage-started', stage: 'ingestion', attempt: 1 }).changed, false, 'a duplicate never starts');
});

// The dashboard's retry: a failed job, and only a failed one, runs again.
/** Expected: `-` refused, else `<job state>/<validation record after it or none>`. */
const expectedRetried: Record<string, string> = {
  'no document': _,
  scheduled: _,
  queued: _,
  'running, validation not started': _,
  'validation queued@2': _,
  'validation running@2': _,
  'validation retrying@2': _,
  'validation succeeded@2': _,
  'analysis started, validation running@2': _,
  'job succeeded': _,
  'job failed (bad input)': 'queued/none',
  'job cancelled': _,
  'job dead-lettered at validation@2': 'queued/none',
};

test('state machine: retried from every state', () => {
  assert.deepEqual(Object.keys(expectedRetried).sort(), Object.keys(states).sort());
  for (const [stateName, before] of Object.entries(states)) {
    const where = `${stateName} × retried`;
    const result = apply(before, { type: 'retried' });
    if (expectedRetried[stateName] === _) {
      assert.equal(result.changed, false, `${where}: expected a refusal`);
      if (!result.changed) assert.match(result.reason, /failed job can be retried|no such job/, `${where}: a refusal says why`);
      continue;
    }
    assert.ok(result.changed, `${where}: expected a change, got ${result.changed ? '' : result.reason}`);
    const [state, record] = (expectedRetried[stateName] ?? '').split('/');
    assert.equal(result.status.state, state, where);
    assert.equal(result.becameFinal, false, `${where}: a retried job is not final`);
    assert.equal(result.status.error, undefined, `${where}: the error is cleared`);
    if (record === 'none') assert.equal(result.status.stages.validation, undefined, `${where}: the failed stage's record is dropped`);
    assert.deepEqual(result.status.stages.ingestion, before?.stages.ingestion, `${where}: the stages it passed keep their records`);
    assert.equal(apply(result.status, { type: 'retried' }).changed, false, `${where}: applied twice`);
    // It runs again: the failed stage starts a new attempt history.
    const restarted = apply(result.status, { type: 'stage-started', stage: 'validation', attempt: 1 });
    assert.ok(restarted.changed && restarted.status.stages.validation?.attempts === 1, `${where}: the stage starts again at attempt 1`);
  }
});
