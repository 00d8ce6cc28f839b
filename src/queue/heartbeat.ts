import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import { errorMessage } from '../contract/errors.js';

export interface HeartbeatOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** Each beat makes a message invisible for this long, counted from the beat. */
  visibilityTimeoutSeconds: number;
  now?: () => number;
}

/** A message the heartbeat keeps invisible. */
export interface Lease {
  readonly receiptHandle: string;
  /** Read only when a beat fails or recovers. */
  readonly logger: Logger;
  /**
   * Called once when this worker can no longer be sure it owns the message: extensions kept failing until
   * the message may be visible again, or SQS says the receipt is no longer valid. The lease is dropped first.
   */
  leaseLost(reason: string): void;
}

interface Beat {
  /** The message is ours until this moment, unless an extension succeeds first. */
  until: number;
  /** When the next extension is due; Infinity while one is under way. */
  dueAt: number;
  failures: number;
}

/** How soon a failed extension is tried again: far inside the visibility timeout, without hammering SQS. */
const retryAfterFailureMs = 2_000;

/**
 * Keeps a consumer's messages invisible while their jobs run: every third of the visibility timeout it
 * extends each one's timeout from now. The first beat comes only after that interval, so short jobs cost
 * no call; and all messages share one timer, set for the earliest beat due, so a message costs no timer
 * either (at thousands of messages a second, a timer each was a measurable share of the consumer's CPU).
 * The timer is unref'd: it outlives a message that finishes early (setting and clearing it for every batch
 * of short jobs would cost as much as a timer each), and it must not hold an idle process open; a job that
 * runs holds its own I/O open, and the worker its health server.
 * A failed extension is logged and tried again soon; once no extension has succeeded for a whole
 * visibility timeout, or SQS says the receipt is gone, the lease is lost and `leaseLost` fires.
 */
export class Heartbeat {
  private readonly beats = new Map<Lease, Beat>();
  private readonly visibilityMs: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires; Infinity when none is set. */
  private timerAt = Infinity;
  private readonly onTimer = () => this.sweep();

  constructor(private readonly options: HeartbeatOptions) {
    this.visibilityMs = options.visibilityTimeoutSeconds * 1000;
    this.intervalMs = Math.max(1000, this.visibilityMs / 3);
    this.now = options.now ?? (() => Date.now());
  }

  /** Starts keeping `lease` invisible; its visibility runs from `receivedAt`. */
  add(lease: Lease, receivedAt = this.now()): void {
    const beat: Beat = { until: receivedAt + this.visibilityMs, dueAt: receivedAt + this.intervalMs, failures: 0 };
    this.beats.set(lease, beat);
    this.arm(beat.dueAt);
  }

  /** Stops keeping `lease` invisible: no extension starts for it after this, and a failing one is ignored. */
  delete(lease: Lease): void {
    this.beats.delete(lease);
  }

  /** Sets the timer for `at` unless it already fires by then. */
  private arm(at: number): void {
    if (at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(0, at - this.now())).unref();
  }

  private sweep(): void {
    this.timerAt = Infinity;
    const now = this.now();
    let next = Infinity;
    for (const [lease, beat] of this.beats) {
      if (beat.dueAt <= now) void this.beat(lease, beat);
      else if (beat.dueAt < next) next = beat.dueAt;
    }
    if (next < Infinity) this.arm(next);
  }

  private async beat(lease: Lease, beat: Beat): Promise<void> {
    const { sqs, queueUrl, visibilityTimeoutSeconds } = this.options;
    beat.dueAt = Infinity;
    const sentAt = this.now();
    try {
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: lease.receiptHandle, VisibilityTimeout: visibilityTimeoutSeconds }));
      if (beat.failures > 0) lease.logger.info({ failures: beat.failures }, 'visibility heartbeat recovered');
      beat.failures = 0;
      beat.until = sentAt + this.visibilityMs;
    } catch (err) {
      if (this.beats.get(lease) !== beat) return;
      if (isMessageGone(err)) return this.lose(lease, `SQS no longer accepts this receipt (${errorMessage(err)}): another worker may hold the message`);
      beat.failures += 1;
      const msLeft = beat.until - this.now();
      lease.logger.warn({ err: errorMessage(err), failures: beat.failures, leaseMsLeft: Math.max(0, msLeft) }, 'visibility heartbeat failed; trying again');
      // Leave a margin for the next call's own latency: past this point the message may already be visible.
      if (msLeft <= retryAfterFailureMs) {
        return this.lose(
          lease,
          `visibility could not be extended for ${Math.round((this.now() - (beat.until - this.visibilityMs)) / 1000)} s (${beat.failures} failed extensions): the message may be visible to other workers`,
        );
      }
    }
    if (this.beats.get(lease) !== beat) return;
    beat.dueAt = this.now() + (beat.failures > 0 ? retryAfterFailureMs : this.intervalMs);
    this.arm(beat.dueAt);
  }

  private lose(lease: Lease, reason: string): void {
    this.delete(lease);
    lease.leaseLost(reason);
  }
}

function isMessageGone(err: unknown): boolean {
  const name = err instanceof Error ? err.name : '';
  return /ReceiptHandleIsInvalid|MessageNotInflight|InvalidParameterValue|QueueDoesNotExist/.test(name);
}
