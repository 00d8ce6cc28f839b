import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import { errorMessage } from '../contract/errors.js';

export interface HeartbeatOptions {
  sqs: SQSClient;
  queueUrl: string;
  receiptHandle: string;
  /** Each beat makes the message invisible for this long, counted from the beat. */
  visibilityTimeoutSeconds: number;
  logger: Logger;
  /**
   * Called once when this worker can no longer be sure it owns the message: extensions kept failing until
   * the message may be visible again, or SQS says the receipt is no longer valid.
   */
  onLeaseLost: (reason: string) => void;
  /** When the message was received (its visibility runs from then). */
  receivedAt?: number;
  now?: () => number;
}

/** How soon a failed extension is tried again: far inside the visibility timeout, without hammering SQS. */
const retryAfterFailureMs = 2_000;

/**
 * Keeps a message invisible while its job runs: every third of the visibility timeout it extends
 * the timeout from now. The first beat comes only after that interval, so short jobs cost nothing.
 * A failed extension is logged and tried again soon; once no extension has succeeded for a whole
 * visibility timeout, or SQS says the receipt is gone, the lease is lost and `onLeaseLost` fires.
 * Returns the function that stops it.
 */
export function startHeartbeat(options: HeartbeatOptions): () => void {
  const { sqs, queueUrl, receiptHandle, visibilityTimeoutSeconds, logger, onLeaseLost } = options;
  const now = options.now ?? Date.now;
  const visibilityMs = visibilityTimeoutSeconds * 1000;
  const intervalMs = Math.max(1000, visibilityMs / 3);
  /** The message is ours until this moment, unless an extension succeeds first. */
  let leaseUntil = (options.receivedAt ?? now()) + visibilityMs;
  let failures = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const lose = (reason: string) => {
    stopped = true;
    onLeaseLost(reason);
  };

  const beat = async () => {
    const sentAt = now();
    try {
      await sqs.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: visibilityTimeoutSeconds }),
      );
      if (failures > 0) logger.info({ failures }, 'visibility heartbeat recovered');
      failures = 0;
      leaseUntil = sentAt + visibilityMs;
    } catch (err) {
      if (stopped) return;
      if (isMessageGone(err)) return lose(`SQS no longer accepts this receipt (${errorMessage(err)}): another worker may hold the message`);
      failures += 1;
      const msLeft = leaseUntil - now();
      logger.warn({ err: errorMessage(err), failures, leaseMsLeft: Math.max(0, msLeft) }, 'visibility heartbeat failed; trying again');
      // Leave a margin for the next call's own latency: past this point the message may already be visible.
      if (msLeft <= retryAfterFailureMs) {
        return lose(`visibility could not be extended for ${Math.round((now() - (leaseUntil - visibilityMs)) / 1000)} s (${failures} failed extensions): the message may be visible to other workers`);
      }
    }
    if (!stopped) timer = setTimeout(() => void beat(), failures > 0 ? retryAfterFailureMs : intervalMs);
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
