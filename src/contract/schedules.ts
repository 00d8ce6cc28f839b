import { Cron } from 'croner';
import { z } from 'zod';
import { ConfigError } from './env.js';
import { JobId, jobMessageSchemas, type JobRequest, type KindOptionSchema } from './job.js';

/**
 * The periodic schedules of `SCHEDULES_FILE` (contract section 7, docs/schedules.md). One schema per
 * set of kinds is both the runtime check and the type; `parseSchedulesFile` turns the first problem
 * into one line naming the file, the schedule and the field.
 */

export const ScheduleName = z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be 1-40 of [A-Za-z0-9_-]');

/** Why croner cannot use `cron` as a 5- or 6-field expression, or undefined when it can. */
export function cronProblem(cron: string): string | undefined {
  const fields = cron.trim().split(/\s+/).filter(Boolean).length;
  // croner also reads nicknames (@daily) and a year field: the contract allows neither.
  if (fields !== 5 && fields !== 6) return `has ${fields} field${fields === 1 ? '' : 's'}: give 5 (minute hour day month weekday), or 6 with seconds first`;
  let pattern: Cron;
  try {
    pattern = new Cron(cron, { mode: '5-or-6-parts', utcOffset: 0 });
  } catch (err) {
    return (err instanceof Error ? err.message : String(err)).replace(/^CronPattern: /, '');
  }
  // Without a year field a pattern that matches no date now (30 February) never will.
  if (pattern.nextRun(new Date(0)) === null) return 'matches no date (a day that no month has?)';
  return undefined;
}

export const CronExpression = z.string().superRefine((cron, ctx) => {
  const problem = cronProblem(cron);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export const TimeZone = z.string().refine((name) => name !== '' && isTimeZone(name), 'not a time zone this Node knows: give an IANA name such as Europe/London or UTC');

export const CatchUp = z.enum(['none', 'latest', 'all']);
export type CatchUp = z.infer<typeof CatchUp>;
export const Overlap = z.enum(['skip', 'allow']);
export type Overlap = z.infer<typeof Overlap>;

/** The job a tick creates: a job request (contract 3a) without a jobId, since each tick names its own. */
export type ScheduleJob = Omit<JobRequest, 'jobId' | 'runAt' | 'delaySeconds'>;

/** Fields a schedule's job must not set, and why. */
const notInScheduleJob = {
  jobId: "a schedule's job has no jobId: each tick's job is named <schedule name>-<tick as UTC yyyyMMddTHHmmssZ>",
  runAt: 'the cron expression says when a tick runs: no runAt',
  delaySeconds: 'the cron expression says when a tick runs: no delaySeconds',
} as const;

function scheduleJob(kinds: readonly KindOptionSchema[]) {
  const { JobRequest } = jobMessageSchemas(kinds);
  return z
    .unknown()
    .superRefine((job, ctx) => {
      if (typeof job !== 'object' || job === null) return;
      for (const [field, message] of Object.entries(notInScheduleJob)) if (field in job) ctx.addIssue({ code: 'custom', path: [field], message });
    })
    .pipe(JobRequest)
    // `unique` stays: the ingestion stage still holds a tick's job to its key (a job with that key from
    // elsewhere makes the tick a duplicate).
    .transform(({ jobId: _jobId, runAt: _runAt, delaySeconds: _delay, ...job }): ScheduleJob => job);
}

function scheduleSchema(kinds: readonly KindOptionSchema[]) {
  return z.strictObject({
    name: ScheduleName,
    cron: CronExpression,
    timezone: TimeZone.default('UTC'),
    /** After downtime (no worker got to a tick within a minute of it): what runs. */
    catchUp: CatchUp.default('none'),
    catchUpWindowSeconds: z.number().int().positive().default(86_400),
    /** `skip`: a tick creates no job while the schedule's previous job is scheduled, queued or running. */
    overlap: Overlap.default('allow'),
    job: scheduleJob(kinds),
  });
}

/** The whole file: `{ schedules: [...] }`, names unique. */
export function schedulesFileSchema(kinds: readonly KindOptionSchema[]) {
  return z.strictObject({ schedules: z.array(scheduleSchema(kinds)) }).superRefine(({ schedules }, ctx) => {
    const first = new Map<string, number>();
    schedules.forEach((s, i) => {
      const earlier = first.get(s.name);
      if (earlier === undefined) first.set(s.name, i);
      else ctx.addIssue({ code: 'custom', path: ['schedules', i, 'name'], message: `schedule #${earlier + 1} has this name too: names must be unique` });
    });
  });
}

export type SchedulesFile = z.infer<ReturnType<typeof schedulesFileSchema>>;
export type Schedule = SchedulesFile['schedules'][number];

/**
 * Validates a parsed file (the JSON or YAML value) or throws a ConfigError of one line:
 * `SCHEDULES_FILE <where>: schedule "<name>": <field>: <problem>`.
 */
export function parseSchedulesFile(value: unknown, kinds: readonly KindOptionSchema[], where: string): SchedulesFile {
  const parsed = schedulesFileSchema(kinds).safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new ConfigError(`SCHEDULES_FILE ${where}: ${describeIssue(value, issue?.path ?? [], issue?.message ?? 'invalid')}`);
}

function describeIssue(value: unknown, path: readonly PropertyKey[], message: string): string {
  const [top, index, ...field] = path;
  if (top !== 'schedules' || typeof index !== 'number') return `${path.length > 0 ? `${path.map(String).join('.')}: ` : ''}${message}`;
  const raw = Array.isArray((value as { schedules?: unknown }).schedules) ? (value as { schedules: unknown[] }).schedules[index] : undefined;
  const name = (raw as { name?: unknown } | undefined)?.name;
  const which = typeof name === 'string' && name !== '' ? `schedule "${name.slice(0, 60)}"` : `schedule #${index + 1}`;
  return `${which}: ${field.length > 0 ? `${field.map(String).join('.')}: ` : ''}${message}`;
}

/**
 * What the workers keep of a schedule at `scheduleStateKey(name)`: the latest tick any of them handled
 * (fired, skipped for overlap, or found claimed) and the latest job a tick created. Written with
 * conditional writes, each field only ever moving forward.
 */
export const ScheduleState = z.object({
  name: ScheduleName,
  lastTick: z.iso.datetime(),
  lastJobId: JobId.optional(),
  /** The tick of lastJobId: lastJobId only moves to a later tick's job. */
  lastJobTick: z.iso.datetime().optional(),
  updatedAt: z.string(),
});
export type ScheduleState = z.infer<typeof ScheduleState>;
