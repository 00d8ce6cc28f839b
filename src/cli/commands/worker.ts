import type { Logger } from 'pino';
import { createAwsClients } from '../../config/aws.js';
import type { Config } from '../../config/env.js';
import { startWorker, type Worker, type WorkerOptions } from '../../daemon/worker.js';

/**
 * The daemon: runs until SIGTERM or SIGINT, then drains and exits 0. A second signal exits at once
 * (the messages still in flight come back after their visibility timeout).
 */
export async function runWorker(
  config: Config,
  logger: Logger,
  options: { onStopped?: () => Promise<void>; worker?: Partial<WorkerOptions> } = {},
): Promise<Worker> {
  const worker = await startWorker({ config, clients: createAwsClients(config), logger, ...options.worker });
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, 'shutting down');
    void worker
      .stop()
      .then(() => options.onStopped?.())
      .then(() => logger.flush())
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A stray rejection belongs to one job at most; the daemon keeps serving the others.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled rejection'));
  return worker;
}
