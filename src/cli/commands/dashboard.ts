import type { Logger } from 'pino';
import { createAwsClients, type AwsClients } from '../../aws/clients.js';
import { queueUrlFor, requireBucket, type Config } from '../../contract/env.js';
import { jobIndexPrefix } from '../../contract/job-keys.js';
import { stageNames, type StageName } from '../../contract/stages.js';
import { startDashboard, type Dashboard } from '../../dashboard/server.js';
import { JobIndex } from '../../pipeline/job-index.js';
import { JobStatusStore } from '../../pipeline/job-status.js';
import { ObjectStore } from '../../storage/object-store.js';

/** The dashboard from the configuration: the bucket, the three stage queues and the DASHBOARD_ variables, nothing else. */
export function startConfiguredDashboard(config: Config, logger: Logger, clients: AwsClients = createAwsClients(config)): Promise<Dashboard> {
  const queueUrls = Object.fromEntries(stageNames.map((stage) => [stage, queueUrlFor(config, stage)])) as Record<StageName, string>;
  return startDashboard({
    host: config.DASHBOARD_HOST,
    port: config.DASHBOARD_PORT,
    token: config.DASHBOARD_TOKEN,
    s3: clients.s3,
    sqs: clients.sqs,
    bucket: requireBucket(config),
    queueUrls,
    logger: logger.child({ component: 'dashboard' }),
  });
}

/** `stageline dashboard`: serves until SIGTERM or SIGINT, then closes its connections and exits 0. */
export async function runDashboard(config: Config, logger: Logger, out: (line: string) => void): Promise<Dashboard> {
  const dashboard = await startConfiguredDashboard(config, logger);
  out(`stageline dashboard: ${dashboard.url}${config.DASHBOARD_TOKEN ? '' : ' (read-only: set DASHBOARD_TOKEN to retry, cancel and redrive)'}`);
  const stop = () => {
    void dashboard.close().finally(() => {
      logger.flush();
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return dashboard;
}

/**
 * `stageline local`'s dashboard: the same, except that a DASHBOARD_PORT already in use (a second
 * `local`, another dashboard) leaves local running without one, and the banner says so.
 */
export async function startLocalDashboard(config: Config, logger: Logger): Promise<{ dashboard?: Dashboard; banner: string }> {
  try {
    const dashboard = await startConfiguredDashboard(config, logger);
    return { dashboard, banner: `dashboard at ${dashboard.url}` };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    return { banner: `no dashboard: ${config.DASHBOARD_HOST}:${config.DASHBOARD_PORT} is in use (set DASHBOARD_PORT)` };
  }
}

/**
 * `stageline dashboard --reindex`: writes every job's index entries from its status.json (jobs from
 * before the index, or a bucket whose index writes were lost), then exits. Safe while workers run.
 */
export async function reindex(config: Config, out: (line: string) => void): Promise<number> {
  const store = new ObjectStore(createAwsClients(config).s3, requireBucket(config));
  const statuses = new JobStatusStore(store);
  let seen = 0;
  const written = await JobIndex.forStore(store).rebuild((jobId) => statuses.get(jobId), {
    onJob: () => {
      if (++seen % 1000 === 0) out(`${seen} jobs indexed…`);
    },
  });
  out(`${written} jobs indexed in s3://${store.bucket}/${jobIndexPrefix}`);
  return 0;
}
