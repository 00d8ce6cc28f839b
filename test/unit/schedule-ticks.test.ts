import assert from 'node:assert/strict';
import { test } from 'node:test';
import { localIso, scheduleTicks, tickJobId } from '../../src/pipeline/schedules/ticks.js';
import { FakeClock, MemoryStore, replica, schedules } from '../helpers/schedule-fakes.js';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString().replace('.000Z', 'Z'));
const between = (cron: string, zone: string, from: string, to: string) => iso(scheduleTicks(cron, zone).between(new Date(from), new Date(to)));

test('Europe/London 01:30 fires once on each day across the 2026 spring change: the skipped 01:30 at the end of the gap', () => {
  // 2026-03-29: at 01:00 GMT clocks go to 02:00 BST, so 01:30 does not exist that day.
  assert.deepEqual(between('30 1 * * *', 'Europe/London', '2026-03-27T00:00:00Z', '2026-03-31T00:00:00Z'), [
    '2026-03-27T01:30:00Z', // GMT
    '2026-03-28T01:30:00Z',
    '2026-03-29T01:00:00Z', // 02:00 BST, the first instant after the gap
    '2026-03-30T00:30:00Z', // BST
  ]);
});

test('Europe/London 01:30 fires once on each day across the 2026 autumn change: the first of the two 01:30s', () => {
  // 2026-10-25: at 02:00 BST clocks go back to 01:00 GMT, so 01:30 happens twice (00:30Z and 01:30Z).
  assert.deepEqual(between('30 1 * * *', 'Europe/London', '2026-10-23T00:00:00Z', '2026-10-27T00:00:00Z'), [
    '2026-10-23T00:30:00Z', // BST
    '2026-10-24T00:30:00Z',
    '2026-10-25T00:30:00Z', // the first 01:30 (BST); not again at 01:30Z
    '2026-10-26T01:30:00Z', // GMT
  ]);
});

test('a stepped pattern in the repeated hour fires once per wall time, and once at the end of the spring gap', () => {
  // croner's own time-zone mode fires */20 in both passes of the repeated hour and not at all in the gap.
  assert.deepEqual(between('*/20 1 * * *', 'Europe/London', '2026-10-24T12:00:00Z', '2026-10-25T12:00:00Z'), [
    '2026-10-25T00:00:00Z', // 01:00 BST
    '2026-10-25T00:20:00Z',
    '2026-10-25T00:40:00Z',
  ]);
  // 01:00, 01:20 and 01:40 are all skipped: one firing at 02:00 BST.
  assert.deepEqual(between('*/20 1 * * *', 'Europe/London', '2026-03-28T12:00:00Z', '2026-03-29T12:00:00Z'), ['2026-03-29T01:00:00Z']);
  // Starting inside the second pass of the repeated hour finds nothing more that day.
  assert.deepEqual(between('*/20 1 * * *', 'Europe/London', '2026-10-25T01:10:00Z', '2026-10-25T23:00:00Z'), []);
});

test('an hourly schedule keeps real hours through the spring gap and fires the repeated hour once', () => {
  assert.deepEqual(between('0 * * * *', 'Europe/London', '2026-03-28T23:30:00Z', '2026-03-29T02:30:00Z'), [
    '2026-03-29T00:00:00Z',
    '2026-03-29T01:00:00Z', // 02:00 BST (01:00 GMT was skipped: the same instant, once)
    '2026-03-29T02:00:00Z',
  ]);
  assert.deepEqual(between('0 * * * *', 'Europe/London', '2026-10-24T23:30:00Z', '2026-10-25T02:30:00Z'), [
    '2026-10-25T00:00:00Z', // 01:00 BST; the second 01:00 (GMT, 01:00Z) does not fire
    '2026-10-25T02:00:00Z',
  ]);
});

test('6 fields put seconds first; the window is (from, to]', () => {
  assert.deepEqual(between('*/5 * * * * *', 'UTC', '2026-12-01T00:00:00Z', '2026-12-01T00:00:20Z'), [
    '2026-12-01T00:00:05Z',
    '2026-12-01T00:00:10Z',
    '2026-12-01T00:00:15Z',
    '2026-12-01T00:00:20Z',
  ]);
  assert.deepEqual(between('30 */2 * * * *', 'UTC', '2026-12-01T00:00:30Z', '2026-12-01T00:05:00Z'), ['2026-12-01T00:02:30Z', '2026-12-01T00:04:30Z']);
  assert.equal(scheduleTicks('0 2 * * *', 'UTC').next(new Date('2026-12-03T02:00:00Z'))?.toISOString(), '2026-12-04T02:00:00.000Z');
});

test('the timezone defaults to UTC', () => {
  const [s] = schedules({ name: 'n', cron: '0 2 * * *', job: { input: { key: 'uploads/a.csv' } } });
  assert.equal(s?.timezone, 'UTC');
  assert.deepEqual(between(s!.cron, s!.timezone, '2026-03-28T00:00:00Z', '2026-03-30T00:00:00Z'), ['2026-03-28T02:00:00Z', '2026-03-29T02:00:00Z']);
});

test('tick jobIds and local times', () => {
  assert.equal(tickJobId('nightly-report', new Date('2026-12-03T02:00:00Z')), 'nightly-report-20261203T020000Z');
  assert.equal(localIso(new Date('2026-10-25T00:30:00Z'), 'Europe/London'), '2026-10-25T01:30:00+01:00');
  assert.equal(localIso(new Date('2026-10-25T01:30:00Z'), 'Europe/London'), '2026-10-25T01:30:00+00:00');
  assert.equal(localIso(new Date('2026-03-08T07:00:00Z'), 'America/New_York'), '2026-03-08T03:00:00-04:00');
});

/** The scheduler itself, run on a clock the test moves through the change: the jobs it sends. */
async function firedAcross(from: string, to: string): Promise<string[]> {
  const clock = new FakeClock(from);
  const list = schedules({ name: 'dst', cron: '30 1 * * *', timezone: 'Europe/London', job: { input: { key: 'uploads/a.csv' }, kind: 'csv' } });
  const r = replica(new MemoryStore(), clock, list);
  await clock.runUntil(to, 1);
  await r.scheduler.stop();
  return r.sent.map((s) => s.jobId ?? '');
}

test('with an injected clock, the scheduler sends one job on each day across both 2026 changes', async () => {
  assert.deepEqual(await firedAcross('2026-03-27T12:00:00Z', '2026-03-31T12:00:00Z'), [
    'dst-20260328T013000Z',
    'dst-20260329T010000Z',
    'dst-20260330T003000Z',
    'dst-20260331T003000Z',
  ]);
  assert.deepEqual(await firedAcross('2026-10-23T12:00:00Z', '2026-10-27T12:00:00Z'), [
    'dst-20261024T003000Z',
    'dst-20261025T003000Z',
    'dst-20261026T013000Z',
    'dst-20261027T013000Z',
  ]);
});
