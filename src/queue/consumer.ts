import {
  ChangeMessageVisibilityCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { BadMessageError, errorMessage } from '../errors.js';
import { BatchDeleter } from './batch-deleter.js';
import { startHeartbeat } from './heartbeat.js';
import { noInstrumentation, type QueueInstrumentation } from './instrumentation.js';
import { outcomeForError, retryDelaySeconds, type Outcome } from './outcome.js';
import { sendToDeadLetter, type RedriveInfo } from './redrive.js';

export interface MessageContext {
  readonly messageId: string;
  /** 1 on first delivery; SQS's ApproximateReceiveCount. */
  readonly receiveCount: number;
  /** The queue's maxReceiveCount, when it has a RedrivePolicy: the last attempt before SQS dead-letters. */
  readonly maxReceiveCount: number | undefined;
  /** Fires when the process gives up on in-flight work (shutdown past the drain timeout). */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

export type Handler<T> = (message: T, ctx: MessageContext) => Promise<Outcome>;

/** Callbacks for metrics and scale-in protection; the consumer itself keeps no counters. */
export interface ConsumerObserver {
  received?(count: number): void;
  settled?(outcome: Outcome, durationMs: number): void;
  inFlightChanged?(inFlight: number): void;
}

export interface ConsumerOptions<S extends z.ZodType> {
  name: string;
  sqs: SQSClient;
  queueUrl: string;
  /** One schema is both the handler's message type and the runtime check of every body. */
  schema: S;
  handler: Handler<z.infer<S>>;
  concurrency: number;
  logger: Logger;
  redrive?: RedriveInfo;
  /** How long a received message stays invisible; the heartbeat renews it while the job runs. */
  visibilityTimeoutSeconds?: number;
  waitTimeSeconds?: number;
  instrumentation?: QueueInstrumentation;
  observer?: ConsumerObserver;
}

interface InFlight {
  controller: AbortController;
  done: Promise<void>;
}

/**
 * One consumer of one queue. It asks SQS for exactly as many messages as it has free slots (never more
 * than it can start at once), in receives of up to ten that run side by side when many slots are free,
 * long-polls, hands each message to the handler with a visibility heartbeat, and acts on the outcome:
 * batch delete, delayed retry, dead-letter, or release. A slot frees when its handler returns, so the
 * next receive overlaps the previous batch's delete. Event-driven: a receive starts when a slot frees
 * or a receive returns, never on a timer.
 */
export class QueueConsumer<S extends z.ZodType> {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly receives = new Set<Promise<void>>();
  private readonly deleter: BatchDeleter;
  private readonly visibilityTimeoutSeconds: number;
  private readonly waitTimeSeconds: number;
  private readonly instrumentation: QueueInstrumentation;
  private readonly receiving = new AbortController();
  /** Handlers running now. */
  private handling = 0;
  /** Slots promised to receives still in progress. */
  private reserved = 0;
  private failures = 0;
  private pumpScheduled = false;
  private started = false;
  private stopped = false;
  /** When a receive last completed (or the consumer started): `/healthz` reads it. */
  lastPollAt = Date.now();

  constructor(private readonly options: ConsumerOptions<S>) {
    this.deleter = new BatchDeleter(options.sqs, options.queueUrl);
    this.visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 60;
    this.waitTimeSeconds = options.waitTimeSeconds ?? 20;
    this.instrumentation = options.instrumentation ?? noInstrumentation;
  }

  get name(): string {
    return this.options.name;
  }

  /** Messages received and not yet settled (running, or being deleted / released). */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  get running(): boolean {
    return this.started && !this.stopped;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.lastPollAt = Date.now();
    this.pump();
  }

  /** Stops receiving at once (aborting long polls in progress); deletes and visibility changes go on. */
  async stopReceiving(): Promise<void> {
    this.stopped = true;
    this.receiving.abort();
    await Promise.all([...this.receives]);
  }

  /** Resolves true when every in-flight message has settled, false if the timeout came first. */
  async drain(timeoutMs: number): Promise<boolean> {
    const all = Promise.all([...this.inFlight.values()].map((f) => f.done)).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Aborts what is still running; each message is made visible again as its handler returns. */
  async abortInFlight(reason: string): Promise<void> {
    const pending = [...this.inFlight.values()];
    for (const f of pending) f.controller.abort(new Error(reason));
    await Promise.all(pending.map((f) => f.done));
  }

  /**
   * Handlers of one batch tend to return within the same turn of the event loop: pumping once after
   * them (setImmediate, which has no timer clamp) asks for one receive of ten instead of ten of one.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Starts receives for every free slot, ten at most per receive. */
  private pump(): void {
    while (!this.stopped) {
      const free = this.options.concurrency - this.handling - this.reserved;
      if (free <= 0) return;
      const count = Math.min(10, free);
      this.reserved += count;
      const receive = this.receiveInto(count);
      this.receives.add(receive);
      void receive.finally(() => this.receives.delete(receive));
    }
  }

  private async receiveInto(count: number): Promise<void> {
    let messages: Message[] = [];
    try {
      messages = await this.receive(count);
      this.failures = 0;
    } catch (err) {
      if (!this.stopped) {
        this.failures += 1;
        const waitMs = Math.min(30_000, 500 * 2 ** Math.min(this.failures, 6));
        this.options.logger.error({ err: errorMessage(err), waitMs }, 'receive failed; polling again after a pause');
        await abortableSleep(waitMs, this.receiving.signal);
      }
    } finally {
      this.lastPollAt = Date.now();
      this.reserved -= count;
    }
    if (messages.length > 0) this.options.observer?.received?.(messages.length);
    for (const message of messages) this.dispatch(message);
    this.pump();
  }

  private async receive(max: number): Promise<Message[]> {
    const res = await this.options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: this.waitTimeSeconds,
        VisibilityTimeout: this.visibilityTimeoutSeconds,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: this.receiving.signal },
    );
    return res.Messages ?? [];
  }

  private dispatch(message: Message): void {
    const receiptHandle = message.ReceiptHandle;
    if (!receiptHandle) return;
    const controller = new AbortController();
    this.handling += 1;
    const handlerReturned = () => {
      this.handling -= 1;
      this.schedulePump();
    };
    // Keyed by receipt handle, not message id: a message redelivered while its first copy still runs
    // (a lost heartbeat) is two deliveries, and each must be drained on its own.
    const done = this.handle(message, receiptHandle, controller.signal, handlerReturned).finally(() => {
      this.inFlight.delete(receiptHandle);
      this.options.observer?.inFlightChanged?.(this.inFlight.size);
    });
    this.inFlight.set(receiptHandle, { controller, done });
    this.options.observer?.inFlightChanged?.(this.inFlight.size);
  }

  private async handle(message: Message, receiptHandle: string, signal: AbortSignal, handlerReturned: () => void): Promise<void> {
    const started = performance.now();
    const messageId = message.MessageId ?? 'unknown';
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? '1');
    const logger = this.options.logger.child({ messageId, receiveCount });
    const stopHeartbeat = startHeartbeat({
      sqs: this.options.sqs,
      queueUrl: this.options.queueUrl,
      receiptHandle,
      visibilityTimeoutSeconds: this.visibilityTimeoutSeconds,
      logger,
    });
    let outcome: Outcome;
    try {
      const body = this.parse(message.Body ?? '');
      const sentAt = Number(message.Attributes?.SentTimestamp ?? Date.now());
      outcome = await this.instrumentation.process(
        {
          queueUrl: this.options.queueUrl,
          messageId,
          receiveCount,
          receiveLatencyMs: Math.max(0, Date.now() - sentAt),
          attributes: message.MessageAttributes ?? {},
          bodySize: Buffer.byteLength(message.Body ?? ''),
        },
        () =>
          this.options.handler(body, {
            messageId,
            receiveCount,
            maxReceiveCount: this.options.redrive?.maxReceiveCount,
            signal,
            logger,
          }),
      );
    } catch (err) {
      outcome = outcomeForError(err, signal);
    } finally {
      stopHeartbeat();
      handlerReturned();
    }
    try {
      await this.settle(message, receiptHandle, receiveCount, outcome, logger);
    } catch (err) {
      // The message becomes visible again when its timeout runs out and is handled once more;
      // outputs are idempotent, so that repeats work rather than losing it.
      logger.error({ err: errorMessage(err), outcome: outcome.kind }, 'could not settle message; it will be redelivered');
    }
    this.options.observer?.settled?.(outcome, performance.now() - started);
  }

  private parse(body: string): z.infer<S> {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (err) {
      throw new BadMessageError(`body is not valid JSON: ${errorMessage(err)}`);
    }
    const parsed = this.options.schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? issue.path.join('.') : 'body';
      throw new BadMessageError(`body matches no ${this.options.name} message schema: ${where}: ${issue?.message ?? 'invalid'}`);
    }
    return parsed.data;
  }

  private async settle(message: Message, receiptHandle: string, receiveCount: number, outcome: Outcome, logger: Logger): Promise<void> {
    const { sqs, queueUrl, redrive } = this.options;
    switch (outcome.kind) {
      case 'done':
      case 'failed':
        await this.deleter.delete(receiptHandle);
        return;
      case 'retry': {
        const last = redrive !== undefined && receiveCount >= redrive.maxReceiveCount;
        // On the last attempt, let SQS move it to the DLQ at the next receive instead of after a delay.
        const delay = last ? 0 : retryDelaySeconds(receiveCount);
        logger.warn({ reason: outcome.reason, retryInSeconds: delay, lastAttempt: last }, 'transient failure; message will be retried');
        await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: delay }));
        return;
      }
      case 'release':
        logger.info({ reason: outcome.reason }, 'work interrupted; message released for another worker');
        await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: 0 }));
        return;
      case 'dead-letter':
        if (!redrive) {
          // Without a DLQ there is nowhere safe to put it: leave it to expire visibly in the logs rather than drop it.
          logger.error({ reason: outcome.reason }, 'unusable message and the queue has no RedrivePolicy; leaving it on the queue');
          await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: 900 }));
          return;
        }
        logger.error({ reason: outcome.reason, deadLetterQueueUrl: redrive.deadLetterQueueUrl }, 'unusable message moved to the dead-letter queue');
        await sendToDeadLetter(sqs, redrive.deadLetterQueueUrl, message, outcome.reason);
        await this.deleter.delete(receiptHandle);
        return;
    }
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
