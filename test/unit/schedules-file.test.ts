import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigError } from '../../src/contract/env.js';
import { loadSchedulesFile } from '../../src/daemon/schedules-file.js';
import { kindDefinitions } from '../../src/tasks/index.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stageline-schedules-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function file(text: string, ext = '.yaml'): Promise<string> {
  const path = join(dir, `s${++n}${ext}`);
  await writeFile(path, text);
  return path;
}

const yaml = `
schedules:
  - name: nightly-report          # [A-Za-z0-9_-]{1,40}
    cron: "0 2 * * *"
    timezone: Europe/London
    catchUp: latest
    catchUpWindowSeconds: 86400
    overlap: skip
    job: { input: { key: "incoming/daily.csv" }, kind: csv }
  - name: every-five-seconds
    cron: "*/5 * * * * *"
    job:
      input: { bucket: other-bucket, key: uploads/tick.csv }
      csv: { maxErrorRate: 0.5 }
`;

test('the contract example loads from YAML, with every default filled in', async () => {
  const schedules = await loadSchedulesFile(await file(yaml), kindDefinitions);
  assert.deepEqual(schedules, [
    {
      name: 'nightly-report',
      cron: '0 2 * * *',
      timezone: 'Europe/London',
      catchUp: 'latest',
      catchUpWindowSeconds: 86400,
      overlap: 'skip',
      job: { input: { key: 'incoming/daily.csv' }, kind: 'csv' },
    },
    {
      name: 'every-five-seconds',
      cron: '*/5 * * * * *',
      timezone: 'UTC',
      catchUp: 'none',
      catchUpWindowSeconds: 86400,
      overlap: 'allow',
      job: { input: { bucket: 'other-bucket', key: 'uploads/tick.csv' }, csv: { maxErrorRate: 0.5 } },
    },
  ]);
});

test('JSON loads, by extension or by content', async () => {
  const body = { schedules: [{ name: 'a', cron: '0 * * * *', job: { input: { key: 'uploads/a.csv' } } }] };
  for (const ext of ['.json', '.conf']) {
    const [s] = await loadSchedulesFile(await file(JSON.stringify(body), ext), kindDefinitions);
    assert.equal(s?.name, 'a');
    assert.equal(s?.timezone, 'UTC');
  }
  // Neither JSON nor a .json name: read as YAML.
  const [y] = await loadSchedulesFile(await file('schedules:\n  - { name: b, cron: "0 * * * *", job: { input: { key: uploads/b.csv } } }\n', ''), kindDefinitions);
  assert.equal(y?.name, 'b');
});

/** The one line the worker stops with for a file whose one schedule has `change` applied. */
async function problem(change: Record<string, unknown>, ext = '.json'): Promise<string> {
  const schedule = { name: 'nightly-report', cron: '0 2 * * *', job: { input: { key: 'incoming/daily.csv' }, kind: 'csv' }, ...change };
  const path = await file(JSON.stringify({ schedules: [schedule] }), ext);
  const err = await loadSchedulesFile(path, kindDefinitions).then(
    () => assert.fail('the file was accepted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, String(err));
  assert.ok(err.message.startsWith(`SCHEDULES_FILE ${path}: `), err.message);
  assert.doesNotMatch(err.message, /\n/, 'one line');
  return err.message.slice(`SCHEDULES_FILE ${path}: `.length);
}

test('errors name the schedule and the field', async () => {
  assert.match(await problem({ cron: '61 2 * * *' }), /^schedule "nightly-report": cron: .*minute/);
  assert.match(await problem({ cron: '0 0 2 * * * 2026' }), /^schedule "nightly-report": cron: has 7 fields/);
  assert.match(await problem({ cron: '@daily' }), /^schedule "nightly-report": cron: has 1 field/);
  assert.match(await problem({ cron: '0 0 30 2 *' }), /^schedule "nightly-report": cron: matches no date/);
  assert.match(await problem({ timezone: 'Europe/Londn' }), /^schedule "nightly-report": timezone: not a time zone/);
  assert.match(await problem({ catchUp: 'some' }), /^schedule "nightly-report": catchUp: /);
  assert.match(await problem({ catchUpWindowSeconds: 0 }), /^schedule "nightly-report": catchUpWindowSeconds: /);
  assert.match(await problem({ overlap: 'queue' }), /^schedule "nightly-report": overlap: /);
  assert.match(await problem({ name: 'has space' }), /^schedule "has space": name: must be 1-40/);
  assert.match(await problem({ job: { jobId: 'mine', input: { key: 'incoming/daily.csv' } } }), /^schedule "nightly-report": job\.jobId: a schedule's job has no jobId/);
  assert.match(await problem({ job: { runAt: '2030-01-01T00:00:00Z', input: { key: 'incoming/daily.csv' } } }), /^schedule "nightly-report": job\.runAt: /);
  assert.match(await problem({ job: { unique: { for: 0 }, input: { key: 'incoming/daily.csv' } } }), /^schedule "nightly-report": job\.unique\.for: /);
  // A kind's own option schema judges its options.
  assert.match(await problem({ job: { input: { key: 'incoming/daily.csv' }, csv: { maxErrorRate: 7 } } }), /^schedule "nightly-report": job\.csv\.maxErrorRate: /);
  assert.match(await problem({ job: { input: { key: 'incoming/daily.csv' }, audio: { renditions: ['wav-9000'] } } }), /^schedule "nightly-report": job\.audio\.renditions/);
  assert.match(await problem({ job: { input: {} } }), /^schedule "nightly-report": job\.input\.key: /);
  assert.match(await problem({ timeZone: 'UTC' }), /^schedule "nightly-report": .*timeZone/);
});

test('duplicate names, and schedules without a usable name, are told apart', async () => {
  const path = await file(
    JSON.stringify({
      schedules: [
        { name: 'a', cron: '0 * * * *', job: { input: { key: 'uploads/a.csv' } } },
        { name: 'a', cron: '30 * * * *', job: { input: { key: 'uploads/a.csv' } } },
      ],
    }),
    '.json',
  );
  await assert.rejects(loadSchedulesFile(path, kindDefinitions), { message: `SCHEDULES_FILE ${path}: schedule "a": name: schedule #1 has this name too: names must be unique` });
  const unnamed = await file(JSON.stringify({ schedules: [{ cron: '0 * * * *', job: { input: { key: 'uploads/a.csv' } } }] }), '.json');
  await assert.rejects(loadSchedulesFile(unnamed, kindDefinitions), /schedule #1: name: /);
});

test('a file that is missing, not YAML, or not a schedules file stops the start with one line', async () => {
  const missing = join(dir, 'nope.yaml');
  await assert.rejects(loadSchedulesFile(missing, kindDefinitions), { name: 'ConfigError', message: `SCHEDULES_FILE ${missing}: cannot read it (ENOENT)` });
  // An unquoted cron starting with * is a YAML alias: the parser's first line says where.
  const unquoted = await file('schedules:\n  - name: a\n    cron: */5 * * * * *\n');
  await assert.rejects(loadSchedulesFile(unquoted, kindDefinitions), (err: Error) => err instanceof ConfigError && /not valid YAML: .*line 3.*quote a cron expression/.test(err.message) && !err.message.includes('\n'));
  await assert.rejects(loadSchedulesFile(await file('{"schedules": [', '.json'), kindDefinitions), /not valid JSON/);
  await assert.rejects(loadSchedulesFile(await file('jobs: []\n'), kindDefinitions), /: schedules: /);
});
