import { createAwsClients } from '../../aws/clients.js';
import { ConfigError, requireBucket, type Config } from '../../contract/env.js';
import type { KindOptionSchema } from '../../contract/job.js';
import type { Schedule } from '../../contract/schedules.js';
import type { JobStatus } from '../../contract/status-document.js';
import { loadSchedulesFile } from '../../daemon/schedules-file.js';
import { JobStatusStore } from '../../pipeline/job-status.js';
import { readScheduleState } from '../../pipeline/schedules/schedule-state.js';
import { localIso, scheduleTicks } from '../../pipeline/schedules/ticks.js';
import { ObjectStore } from '../../storage/object-store.js';
import { kindDefinitions } from '../../tasks/index.js';

/** One schedule as `stageline schedules` shows it (`--json` prints these). */
export interface ScheduleReport {
  name: string;
  cron: string;
  timezone: string;
  catchUp: Schedule['catchUp'];
  catchUpWindowSeconds: number;
  overlap: Schedule['overlap'];
  /** The latest job a tick made, with that job's state now; absent when no tick has made one. */
  lastRun?: { tick: string; jobId: string; state: JobStatus['state'] | 'unknown' };
  /** The latest tick any worker handled, job or not (a skipped tick makes none). */
  lastTick?: string;
  /** Absent when the expression never fires again. */
  nextRun?: { at: string; local: string };
}

/** Every schedule of SCHEDULES_FILE with its last run (from its record and the job's status.json) and its next. */
export async function scheduleReports(
  config: Config,
  deps: { store: ObjectStore; statuses: Pick<JobStatusStore, 'get'>; kinds: readonly KindOptionSchema[]; now?: Date },
): Promise<ScheduleReport[]> {
  if (!config.SCHEDULES_FILE) throw new ConfigError('SCHEDULES_FILE: not set, so there are no schedules to show');
  const schedules = await loadSchedulesFile(config.SCHEDULES_FILE, deps.kinds);
  const now = deps.now ?? new Date();
  return Promise.all(
    schedules.map(async (s): Promise<ScheduleReport> => {
      const state = await readScheduleState(deps.store, s.name);
      const next = scheduleTicks(s.cron, s.timezone).next(now);
      const lastJob = state?.lastJobId && state.lastJobTick ? { jobId: state.lastJobId, tick: state.lastJobTick } : undefined;
      const status = lastJob ? await deps.statuses.get(lastJob.jobId) : undefined;
      return {
        name: s.name,
        cron: s.cron,
        timezone: s.timezone,
        catchUp: s.catchUp,
        catchUpWindowSeconds: s.catchUpWindowSeconds,
        overlap: s.overlap,
        ...(lastJob ? { lastRun: { ...lastJob, state: status?.state ?? 'unknown' } } : {}),
        ...(state ? { lastTick: state.lastTick } : {}),
        ...(next ? { nextRun: { at: utc(next), local: `${localIso(next, s.timezone)} ${s.timezone}` } } : {}),
      };
    }),
  );
}

const utc = (d: Date | string): string => new Date(d).toISOString().replace(/\.000Z$/, 'Z');

export function formatScheduleReports(reports: readonly ScheduleReport[]): string {
  if (reports.length === 0) return 'no schedules in SCHEDULES_FILE';
  return reports
    .map((r) => {
      const lines = [`${r.name}  "${r.cron}"  ${r.timezone}  catchUp ${r.catchUp} (${r.catchUpWindowSeconds} s)  overlap ${r.overlap}`];
      lines.push(r.lastRun ? `  last run  ${utc(r.lastRun.tick)}  ${r.lastRun.jobId}  ${r.lastRun.state}` : '  last run  never');
      if (r.lastTick && r.lastTick !== r.lastRun?.tick) lines.push(`  last tick ${utc(r.lastTick)}  made no job (skipped while the previous run was active, or its record lags)`);
      lines.push(r.nextRun ? `  next run  ${r.nextRun.at}  (${r.nextRun.local})` : '  next run  never: the expression matches no later time');
      return lines.join('\n');
    })
    .join('\n');
}

/** `stageline schedules [--json]`. */
export async function schedulesCommand(config: Config, json: boolean, write: (text: string) => void): Promise<number> {
  const store = new ObjectStore(createAwsClients(config).s3, requireBucket(config));
  const reports = await scheduleReports(config, { store, statuses: new JobStatusStore(store), kinds: kindDefinitions });
  write(json ? JSON.stringify(reports, null, 2) : formatScheduleReports(reports));
  return 0;
}
