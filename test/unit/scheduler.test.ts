import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scheduleStateKey, statusKey } from '../../src/contract/job-keys.js';
import { ScheduleState } from '../../src/contract/schedules.js';
import { merged } from '../../src/pipeline/schedules/schedule-state.js';
import { tickJobId } from '../../src/pipeline/schedules/ticks.js';
import { JobStatus } from '../../src/contract/status-document.js';
import { FakeClock, MemoryStore, replica, schedules } from '../helpers/schedule-fakes.js';

const job = { input: { key: 'uploads/report.csv' }, kind: 'csv' };
const hourly = (extra: Record<string, unknown> = {}) => schedules({ name: 'hourly', cron: '0 * * * *', job, ...extra });
const ids = (sent: { jobId?: string }[]) => sent.map((s) => s.jobId);

/** The record a previous run left: its last tick at `lastTick`. */
function previousRun(store: MemoryStore, name: string, lastTick: string): void {
  const state: ScheduleState = { name, lastTick, lastJobId: `${name}-x`, lastJobTick: lastTick, updatedAt: lastTick };
  store.objects.set(scheduleStateKey(name), { body: JSON.stringify(state), etag: '"0"' });
}

/** Starts a replica after downtime: the last run was at 00:00, it is now 05:30. */
async function afterDowntime(extra: Record<string, unknown>): Promise<string[]> {
  const store = new MemoryStore();
  previousRun(store, 'hourly', '2026-06-01T00:00:00.000Z');
  const clock = new FakeClock('2026-06-01T05:30:00Z');
  const r = replica(store, clock, hourly(extra));
  await clock.runUntil('2026-06-01T06:00:30Z', 1);
  await r.scheduler.stop();
  return ids(r.sent).map((id) => id?.replace('hourly-20260601T', '') ?? '');
}

test('catchUp after downtime: none fires no missed tick, latest the newest, all every one within the window', async () => {
  // 06:00 is the first tick while running: it fires whatever the policy.
  assert.deepEqual(await afterDowntime({ catchUp: 'none' }), ['060000Z']);
  assert.deepEqual(await afterDowntime({ catchUp: 'latest' }), ['050000Z', '060000Z']);
  assert.deepEqual(await afterDowntime({ catchUp: 'all' }), ['010000Z', '020000Z', '030000Z', '040000Z', '050000Z', '060000Z']);
  // The window counts back from the start (05:30): 03:00, 04:00 and 05:00 lie within 3 hours.
  assert.deepEqual(await afterDowntime({ catchUp: 'all', catchUpWindowSeconds: 3 * 3600 }), ['030000Z', '040000Z', '050000Z', '060000Z']);
  assert.deepEqual(await afterDowntime({ catchUp: 'latest', catchUpWindowSeconds: 20 * 60 }), ['060000Z'], 'the latest missed tick (05:00) is outside a 20-minute window');
});

test('a new schedule (no record) fires nothing from before the start, and a restart never fires a tick twice', async () => {
  const store = new MemoryStore();
  const clock = new FakeClock('2026-06-01T05:30:00Z');
  const list = hourly({ catchUp: 'all' });
  const first = replica(store, clock, list);
  await clock.runUntil('2026-06-01T08:00:30Z', 1);
  await first.scheduler.stop();
  assert.deepEqual(ids(first.sent), ['hourly-20260601T060000Z', 'hourly-20260601T070000Z', 'hourly-20260601T080000Z']);
  const state = ScheduleState.parse(store.json(scheduleStateKey('hourly')));
  assert.equal(state.lastTick, '2026-06-01T08:00:00.000Z');
  assert.equal(state.lastJobId, 'hourly-20260601T080000Z');

  // The record lags (as if its last write failed): the restarted replica with catchUp all meets
  // the 07:00 and 08:00 ticks again, finds them claimed, and sends nothing for them.
  previousRun(store, 'hourly', '2026-06-01T06:00:00.000Z');
  clock.jump('2026-06-01T09:30:00Z');
  const restarted = replica(store, clock, list);
  await clock.runUntil('2026-06-01T09:31:00Z', 1);
  await restarted.scheduler.stop();
  assert.deepEqual(ids(restarted.sent), ['hourly-20260601T090000Z']);
});

test('two replicas on one store: every tick is claimed by one of them and sent once', async () => {
  const store = new MemoryStore();
  const clock = new FakeClock('2026-06-01T00:00:00.500Z');
  const list = schedules({ name: 'fast', cron: '*/5 * * * * *', job });
  const a = replica(store, clock, list);
  const b = replica(store, clock, list);
  await clock.runUntil('2026-06-01T00:01:00.500Z', 2);
  await Promise.all([a.scheduler.stop(), b.scheduler.stop()]);
  const all = [...ids(a.sent), ...ids(b.sent)].sort();
  const expected = Array.from({ length: 12 }, (_, i) => tickJobId('fast', new Date(Date.parse('2026-06-01T00:00:00Z') + (i + 1) * 5000)));
  assert.deepEqual(all, expected, 'every tick once, none twice, none missed');
  // The loser of a claim sent nothing: a replica that finds status.json created sends no request.
  for (const id of all) {
    const status = JobStatus.parse(store.json(statusKey(id!)));
    assert.equal(status.state, 'queued');
    assert.deepEqual(status.input, { bucket: 'test-bucket', key: 'uploads/report.csv' }, 'the input bucket defaults to S3_BUCKET');
  }
});

test('a replica that loses every claim sends nothing', async () => {
  const store = new MemoryStore();
  const clock = new FakeClock('2026-06-01T00:00:00.500Z');
  const list = schedules({ name: 'fast', cron: '*/5 * * * * *', job });
  // Another replica already created every tick's status.json.
  for (let s = 5; s <= 30; s += 5) {
    const jobId = `fast-20260601T0000${String(s).padStart(2, '0')}Z`;
    await store.putJson(statusKey(jobId), { jobId, state: 'queued', input: { bucket: 'test-bucket', key: 'uploads/report.csv' }, stages: {}, outputs: {}, updatedAt: 'x' });
  }
  const loser = replica(store, clock, list);
  await clock.runUntil('2026-06-01T00:00:32Z', 1);
  await loser.scheduler.stop();
  assert.deepEqual(ids(loser.sent), []);
  assert.equal(ScheduleState.parse(store.json(scheduleStateKey('fast'))).lastTick, '2026-06-01T00:00:30.000Z', 'the loser still moves the record forward');
});

test('overlap skip: no job while the previous one is queued or running; the next tick after it ends fires', async () => {
  const store = new MemoryStore();
  const clock = new FakeClock('2026-06-01T00:00:30Z');
  const r = replica(store, clock, schedules({ name: 'slow', cron: '* * * * *', overlap: 'skip', job }));
  await clock.runUntil('2026-06-01T00:03:30Z', 1);
  assert.deepEqual(ids(r.sent), ['slow-20260601T000100Z'], 'the 00:02 and 00:03 ticks were skipped: the 00:01 job is still queued');
  assert.equal(store.json(statusKey('slow-20260601T000200Z')), undefined, 'a skipped tick makes no job');

  const key = statusKey('slow-20260601T000100Z');
  store.objects.set(key, { body: JSON.stringify({ ...JobStatus.parse(store.json(key)), state: 'running' }), etag: '"r"' });
  await clock.runUntil('2026-06-01T00:04:30Z', 1);
  assert.equal(r.sent.length, 1, 'still running at 00:04');

  store.objects.set(key, { body: JSON.stringify({ ...JobStatus.parse(store.json(key)), state: 'succeeded' }), etag: '"s"' });
  await clock.runUntil('2026-06-01T00:05:30Z', 1);
  await r.scheduler.stop();
  assert.deepEqual(ids(r.sent), ['slow-20260601T000100Z', 'slow-20260601T000500Z']);
  assert.equal(ScheduleState.parse(store.json(scheduleStateKey('slow'))).lastJobId, 'slow-20260601T000500Z');
});

test('overlap allow (the default) fires every tick whatever the previous job is doing', async () => {
  const store = new MemoryStore();
  const clock = new FakeClock('2026-06-01T00:00:30Z');
  const r = replica(store, clock, schedules({ name: 'every', cron: '* * * * *', job }));
  await clock.runUntil('2026-06-01T00:03:30Z', 1);
  await r.scheduler.stop();
  assert.deepEqual(ids(r.sent), ['every-20260601T000100Z', 'every-20260601T000200Z', 'every-20260601T000300Z']);
});

test('a send that fails is sent again by the same replica once SQS takes it; the loop goes on', async () => {
  const store = new MemoryStore();
  const clock = new FakeClock('2026-06-01T00:00:30Z');
  let failures = 3;
  const sent: string[] = [];
  const r = replica(store, clock, schedules({ name: 'flaky', cron: '* * * * *', job }), {
    send: async (request) => {
      if (failures-- > 0) throw new Error('injected: SQS is down');
      sent.push(request.jobId ?? '');
    },
  });
  await clock.runUntil('2026-06-01T00:02:30Z', 1);
  await r.scheduler.stop();
  assert.deepEqual(sent, ['flaky-20260601T000100Z', 'flaky-20260601T000200Z'], 'the 00:01 tick was claimed once and sent after three failures');
});

test('a claimed tick is sent however late; an unclaimed one that S3 kept refusing past a minute is missed', async () => {
  const store = new MemoryStore();
  const clock = new FakeClock('2026-06-01T00:00:30Z');
  let sqsDown = true;
  const sent: string[] = [];
  const r = replica(store, clock, schedules({ name: 'late', cron: '* * * * *', job }), {
    send: async (request) => {
      if (sqsDown) throw new Error('injected: SQS is down');
      sent.push(request.jobId ?? '');
    },
    retry: { baseMs: 10_000, capMs: 10_000 },
  });
  await clock.runUntil('2026-06-01T00:04:00Z', 1);
  assert.deepEqual(sent, []);
  sqsDown = false;
  await clock.runUntil('2026-06-01T00:05:30Z', 1);
  // 00:01 was claimed before SQS failed: sent 3 minutes late. 00:02 and 00:03 were never claimed (the
  // loop was retrying 00:01's send) and are more than a minute old by then: missed (catchUp none).
  // 00:04 and 00:05 are within a minute when their turn comes.
  assert.deepEqual(sent, ['late-20260601T000100Z', 'late-20260601T000400Z', 'late-20260601T000500Z']);
  assert.equal(store.json(statusKey('late-20260601T000200Z')), undefined);
  assert.equal(store.json(statusKey('late-20260601T000300Z')), undefined);

  // S3 refuses the claims for a while: nothing is sent for those ticks, and the loop survives.
  store.failWrites = 1000;
  await clock.runUntil('2026-06-01T00:09:10Z', 1);
  assert.equal(sent.length, 3);
  store.failWrites = 0;
  await clock.runUntil('2026-06-01T00:09:40Z', 1);
  await r.scheduler.stop();
  assert.deepEqual(sent.slice(3), ['late-20260601T000900Z']);
  for (const minute of ['06', '07', '08']) assert.equal(store.json(statusKey(`late-20260601T00${minute}00Z`)), undefined);
});

test('stop: no tick fires after it', async () => {
  const store = new MemoryStore();
  const clock = new FakeClock('2026-06-01T00:00:30Z');
  const r = replica(store, clock, schedules({ name: 's', cron: '* * * * *', job }));
  await clock.settle(1);
  await r.scheduler.stop();
  assert.equal(clock.sleeping, 0);
  clock.jump('2026-06-01T00:10:00Z');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(r.sent, []);
});

test('the record only moves forward: lastTick and the last job each keep the latest', () => {
  const now = new Date('2026-06-01T01:00:00Z');
  const at = (iso: string) => new Date(iso);
  const first = merged('s', undefined, { tick: at('2026-06-01T00:10:00Z'), jobId: 's-a' }, now);
  assert.deepEqual(first && { lastTick: first.lastTick, lastJobId: first.lastJobId }, { lastTick: '2026-06-01T00:10:00.000Z', lastJobId: 's-a' });
  // A later skipped tick moves lastTick, not the job.
  const skipped = merged('s', first, { tick: at('2026-06-01T00:20:00Z') }, now);
  assert.equal(skipped?.lastTick, '2026-06-01T00:20:00.000Z');
  assert.equal(skipped?.lastJobId, 's-a');
  // A replica that fired the 00:15 tick writes late: its job is newer than s-a, its tick older than lastTick.
  const late = merged('s', skipped, { tick: at('2026-06-01T00:15:00Z'), jobId: 's-b' }, now);
  assert.equal(late?.lastTick, '2026-06-01T00:20:00.000Z');
  assert.equal(late?.lastJobId, 's-b');
  // Nothing older changes anything.
  assert.equal(merged('s', late, { tick: at('2026-06-01T00:05:00Z'), jobId: 's-old' }, now), undefined);
  assert.equal(merged('s', late, { tick: at('2026-06-01T00:20:00Z') }, now), undefined);
});
