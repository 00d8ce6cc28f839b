import { ChangeMessageVisibilityBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import { AbortedError, errorMessage } from '../contract/errors.js';
import { requestedJobs } from './ingestion-request.js';
import type { JobEvents } from './job-events.js';
import { JobIdConflictError, type JobStatusStore } from './job-status.js';
import { type JobIdentity } from '../contract/status-document.js';
import type { JobMessageSchemas } from '../contract/job.js';
import { type StageName } from '../contract/stages.js';
import { retryWhileUnavailable } from './store-retry.js';
import { abortableSleep } from '../queue/backoff.js';
import { maxWaitTimeSeconds } from '../queue/consumer.js';

/**
 * How long a DLQ message received by a sweep stays hidden, at most: the sweep makes it visible again
 * when it ends, so this only matters when a worker dies during a sweep or a long poll (a killed
 * worker's receive may still take a message). `stageline dlq` waits this long, and a little more,
 * for messages a watcher holds.
 */
export const deadLetterPeekSeconds = 5;

export interface DeadLetterWatcherOptions {
  sqs: SQSClient;
  stage: StageName;
  /** From the stage queue's RedrivePolicy (resolveRedrive). */
  deadLetterQueueUrl: string;
  /** The pipeline bucket: the input bucket of a job request that names none. */
  defaultBucket: string;
  /** The schemas the stage's consumer reads its messages with. */
  messages: JobMessageSchemas;
  statuses: JobStatusStore;
  events: JobEvents;
  logger: Logger;
  /** Long poll of each sweep. */
  waitTimeSeconds?: number;
  /**
   * Rest after a sweep that found only messages already handled (an empty DLQ needs none: the long poll
   * waits). A message arriving behind old ones is seen within this and a sweep: well within a minute.
   */
  idlePauseMs?: number;
  /** DLQ message ids remembered as handled, so a long DLQ costs no S3 reads on every sweep. */
  remember?: number;
}

/**
 * Records the jobs whose messages reached a stage's dead-letter queue, whatever took them there (the
 * last attempt failing, a crash loop that left no worker alive at the last attempt, releases): the
 * job becomes `failed` with `DEAD_LETTERED` and the last known error, and the writer that made it so
 * publishes the one `job.failed` event. The messages stay in the DLQ for `stageline dlq --redrive`:
 * they are received with a short visibility timeout and never deleted. Every worker watches the DLQs
 * of its own stages; conditional status writes make one of them win.
 *
 * Each sweep long-polls, then keeps receiving until the DLQ shows nothing this sweep has not seen
 * (what it received stays hidden meanwhile, so the sweep walks the whole queue), then makes all it
 * received visible again at once and rests when it found only old ones: messages are hidden from
 * `stageline dlq` only for the moment of a sweep. A body that is not a job is logged once and skipped.
 */
export class DeadLetterWatcher {
  private readonly controller = new AbortController();
  private readonly handled = new Set<string>();
  private readonly waitTimeSeconds: number;
  private readonly idlePauseMs: number;
  private readonly remember: number;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: DeadLetterWatcherOptions) {
    this.waitTimeSeconds = options.waitTimeSeconds ?? maxWaitTimeSeconds;
    this.idlePauseMs = options.idlePauseMs ?? 20_000;
    this.remember = options.remember ?? 10_000;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops at once: a receive or a status write under way is abandoned (the message stays in the DLQ). */
  async stop(): Promise<void> {
    this.controller.abort(new AbortedError('dead-letter watcher stopped'));
    await this.loop;
  }

  private async run(): Promise<void> {
    const { signal } = this.controller;
    const logger = this.options.logger;
    logger.debug({ deadLetterQueueUrl: this.options.deadLetterQueueUrl }, 'watching the dead-letter queue');
    while (!signal.aborted) {
      let found: SweepResult = 'only-handled';
      try {
        found = await this.sweep();
      } catch (err) {
        if (signal.aborted) break;
        logger.error({ err: errorMessage(err), deadLetterQueueUrl: this.options.deadLetterQueueUrl }, 'dead-letter queue sweep failed; trying again after a pause');
      }
      if (found === 'only-handled') await abortableSleep(this.idlePauseMs, signal);
    }
  }

  /** One walk over the DLQ. */
  private async sweep(): Promise<SweepResult> {
    const seen = new Set<string>();
    const held: string[] = [];
    let found: SweepResult = 'nothing';
    try {
      for (let wait = this.waitTimeSeconds; ; wait = 0) {
        const received = await this.receive(wait);
        for (const m of received) if (m.ReceiptHandle) held.push(m.ReceiptHandle);
        const messages = received.filter((m) => m.MessageId && !seen.has(m.MessageId));
        if (messages.length === 0) return found;
        for (const m of messages) {
          const id = m.MessageId ?? '';
          seen.add(id);
          if (found === 'nothing') found = 'only-handled';
          if (this.handled.has(id)) continue;
          // A message that could not be recorded is tried again after the pause, not in a tight loop.
          if (await this.record(id, m.Body ?? '')) {
            this.markHandled(id);
            found = 'new';
          }
        }
      }
    } finally {
      await this.release(held);
    }
  }

  /** Makes the messages a sweep held visible again (best effort: they reappear on their own after deadLetterPeekSeconds). */
  private async release(receiptHandles: string[]): Promise<void> {
    const { sqs, deadLetterQueueUrl, logger } = this.options;
    for (let i = 0; i < receiptHandles.length; i += 10) {
      const entries = receiptHandles.slice(i, i + 10).map((ReceiptHandle, j) => ({ Id: String(j), ReceiptHandle, VisibilityTimeout: 0 }));
      try {
        await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: deadLetterQueueUrl, Entries: entries }));
      } catch (err) {
        logger.debug({ err: errorMessage(err) }, 'could not make dead-lettered messages visible again; they reappear after their timeout');
        return;
      }
    }
  }

  private receive(waitTimeSeconds: number): Promise<Message[]> {
    const { sqs, deadLetterQueueUrl, logger } = this.options;
    const signal = this.controller.signal;
    return retryWhileUnavailable(
      async () =>
        (
          await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: deadLetterQueueUrl,
              MaxNumberOfMessages: 10,
              WaitTimeSeconds: waitTimeSeconds,
              VisibilityTimeout: deadLetterPeekSeconds,
            }),
            { abortSignal: signal },
          )
        ).Messages ?? [],
      { signal, onRetry: (err, failures, waitMs) => logger.warn({ err: errorMessage(err), failures, waitMs }, 'dead-letter queue receive failed: SQS is failing; trying again') },
    );
  }

  /** Records every job a dead-lettered message stands for; false when it must be looked at again. */
  private async record(messageId: string, body: string): Promise<boolean> {
    const { stage, statuses, events, logger } = this.options;
    const signal = this.controller.signal;
    let jobs: JobIdentity[];
    try {
      jobs = deadLetteredJobs(this.options.messages, stage, body, { defaultBucket: this.options.defaultBucket, messageId });
    } catch (err) {
      logger.warn({ messageId, err: errorMessage(err) }, 'dead-lettered message is not a job: skipped');
      return true;
    }
    try {
      for (const job of jobs) {
        let written;
        try {
          written = await statuses.deadLettered(job, stage, signal);
        } catch (err) {
          if (!(err instanceof JobIdConflictError)) throw err;
          // A request that named another job's jobId: that job is not this message's to fail.
          logger.warn({ messageId, jobId: job.jobId, input: job.input }, 'dead-lettered message names a jobId that belongs to another input: nothing recorded');
          continue;
        }
        const { status, becameFinal } = written;
        if (!becameFinal || !status.error) continue;
        logger.warn({ messageId, jobId: job.jobId, err: status.error.message }, 'job dead-lettered: status recorded');
        await events.failed(status, stage, { code: status.error.code, message: status.error.message }, signal);
      }
      return true;
    } catch (err) {
      if (signal.aborted) throw err;
      logger.error({ messageId, err: errorMessage(err) }, 'could not record a dead-lettered job; will look again');
      return false;
    }
  }

  private markHandled(id: string): void {
    this.handled.add(id);
    // A Set iterates in insertion order: the first entry is the oldest.
    if (this.handled.size > this.remember) this.handled.delete(this.handled.values().next().value as string);
  }
}

/** What a sweep found: nothing at all (the long poll did the waiting), only messages already handled, or something new. */
type SweepResult = 'nothing' | 'only-handled' | 'new';

/**
 * The jobs a stage's message body stands for, as the consumer would read them; throws for a body that
 * is not a job (bad JSON or no schema: the consumer dead-letters those itself).
 */
function deadLetteredJobs(messages: JobMessageSchemas, stage: StageName, body: string, origin: { defaultBucket: string; messageId: string }): JobIdentity[] {
  const json: unknown = JSON.parse(body);
  if (stage === 'ingestion') return requestedJobs(messages.IngestionMessage.parse(json), origin);
  return [messages.JobMessage.parse(json)];
}
