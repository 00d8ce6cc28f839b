import type { Logger } from 'pino';
import { createAwsClients } from '../../aws/clients.js';
import type { Config } from '../../contract/env.js';
import { TaskProtection } from '../../daemon/task-protection.js';
import { startWorker, type Worker, type WorkerOptions } from '../../daemon/worker.js';
import { captureJobError, createSentryInstrumentation, flushSentry, initSentry } from '../../daemon/sentry.js';

/**
 * The daemon: runs until SIGTERM or SIGINT, then drains and exits 0. A second signal exits at once
 * (the messages still in flight come back after their visibility timeout). Sentry and ECS scale-in
 * protection are switched on by their variables.
 */
export async function runWorker(
  config: Config,
  logger: Logger,
  options: { onStopped?: () => Promise<void>; worker?: Partial<WorkerOptions> } = {},
): Promise<Worker> {
  if (config.SENTRY_DSN) initSentry(config.SENTRY_DSN);
  // Long transcodes must survive a scale-in; a crashed process's protection lapses on its own after this.
  const protection = new TaskProtection({ agentUri: config.ECS_AGENT_URI, logger: logger.child({ component: 'task-protection' }), expiresInMinutes: 60 });
  const worker = await startWorker({
    config,
    clients: createAwsClients(config),
    logger,
    onInFlightChanged: (n) => protection.setInFlight(n),
    ...(config.SENTRY_DSN ? { instrumentation: createSentryInstrumentation(), reportError: (err, tags) => void captureJobError(err, tags) } : {}),
    ...options.worker,
  });
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, 'shutting down');
    // The promise to ECS is an exit within DRAIN_TIMEOUT_SECONDS + 5 s; if a step hangs past that, go anyway
    // (what is still in flight reappears after its visibility timeout).
    setTimeout(() => {
      logger.error('shutdown overran DRAIN_TIMEOUT_SECONDS + 5 s; exiting now');
      logger.flush();
      process.exit(1);
    }, (config.DRAIN_TIMEOUT_SECONDS + 4.5) * 1000).unref();
    void worker
      .stop()
      // Both are bounded to 2 s and independent: in parallel they stay inside ECS's stop timeout.
      .then(() => Promise.all([protection.close(), flushSentry(2000)]))
      .then(() => options.onStopped?.())
      .catch((err: unknown) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'error during shutdown'))
      .finally(() => {
        logger.flush();
        process.exit(0);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A stray rejection belongs to one job at most; the daemon keeps serving the others.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled rejection'));
  return worker;
}
