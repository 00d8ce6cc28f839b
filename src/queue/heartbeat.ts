import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';

export interface HeartbeatOptions {
  sqs: SQSClient;
  queueUrl: string;
  receiptHandle: string;
  /** Each beat makes the message invisible for this long, counted from the beat. */
  visibilityTimeoutSeconds: number;
  logger: Logger;
}

/**
 * Keeps a message invisible while its job runs: every third of the visibility timeout it extends
 * the timeout from now. The first beat comes only after that interval, so short jobs cost nothing.
 * A beat that fails because the message is gone (deleted, or its receipt expired) stops the heartbeat;
 * the job carries on, since its outputs are idempotent. Returns the function that stops it.
 */
export function startHeartbeat(options: HeartbeatOptions): () => void {
  const { sqs, queueUrl, receiptHandle, visibilityTimeoutSeconds, logger } = options;
  const intervalMs = Math.max(1000, (visibilityTimeoutSeconds * 1000) / 3);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const beat = async () => {
    try {
      await sqs.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: visibilityTimeoutSeconds }),
      );
    } catch (err) {
      if (isMessageGone(err)) {
        logger.warn({ err: errorMessage(err) }, 'visibility heartbeat: message is no longer in flight; stopping heartbeat');
        stopped = true;
        return;
      }
      // A passing failure: the next beat comes well before the timeout runs out.
      logger.warn({ err: errorMessage(err) }, 'visibility heartbeat failed; will try again');
    }
    if (!stopped) timer = setTimeout(() => void beat(), intervalMs);
  };
  timer = setTimeout(() => void beat(), intervalMs);

  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function isMessageGone(err: unknown): boolean {
  const name = err instanceof Error ? err.name : '';
  return /ReceiptHandleIsInvalid|MessageNotInflight|InvalidParameterValue|QueueDoesNotExist/.test(name);
}
