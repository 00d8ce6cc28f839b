import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type MessageSystemAttributeName,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { BadMessageError, LeaseLostError, errorMessage } from '../contract/errors.js';
import { envDefaults } from '../contract/env.js';
import { BatchDeleter } from './batch-deleter.js';
import { Heartbeat, type Lease } from './heartbeat.js';
import { noInstrumentation, type ProcessInfo, type QueueInstrumentation } from './instrumentation.js';
import { isLastAttempt, outcomeForError, outcomeUnderLease, retryDelaySeconds, type Outcome } from './outcome.js';
import { sendToDeadLetter, type RedriveInfo } from './redrive.js';
import { abortableSleep } from './backoff.js';

export interface MessageContext {
  readonly messageId: string;
  /** 1 on first delivery; SQS's ApproximateReceiveCount. */
  readonly receiveCount: number;
  /** The queue's maxReceiveCount, when it has a RedrivePolicy: the last attempt before SQS dead-letters. */
  readonly maxReceiveCount: number | undefined;
  /**
   * Fires when the process gives up on in-flight work (shutdown past the drain timeout), or when the
   * message's lease was lost (its reason is then a LeaseLostError: write no outcome).
   */
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

/** Something that may hold receives back, such as a circuit breaker over a failing service. */
export interface ReceiveGate {
  /** Resolves at once when receiving may go on; otherwise when it may, or when `signal` aborts. */
  whenClosed(signal: AbortSignal): Promise<void>;
}

/** What `/healthz` reads of one loop. */
export interface LoopHealth {
  name: string;
  /**
   * receiving: a receive is under way; busy: every slot holds a job (waiting for a free one);
   * paused: held by a gate or backing off after a failed receive; idle: free slots and no receive
   * (only for an instant in a live loop); stopped: shutting down or not started.
   */
  state: 'receiving' | 'busy' | 'paused' | 'idle' | 'stopped';
  /** When the loop entered this state (for receiving: when the oldest receive under way started). */
  since: number;
  inFlight: number;
  concurrency: number;
}

/** The longest long poll SQS allows: the fewest empty receives. */
export const maxWaitTimeSeconds = 20;

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
  /** Awaited before every receive: while any is closed-for-business, the loop takes nothing new. */
  gates?: readonly ReceiveGate[];
}

/** Stands in for the signal of a delivery whose handler never asked for one: nothing aborted it. */
const neverAborted = new AbortController().signal;
const notStarted = Promise.resolve();

/**
 * One received message from dispatch until it is settled: the handler's context, the heartbeat's lease
 * and what the drain waits for, in one object. Its abort signal and child logger are made on first use:
 * at thousands of messages a second they were the largest part of the consumer's own CPU, and a handler
 * that acknowledges without work never needs them.
 */
class Delivery implements MessageContext, Lease {
  readonly messageId: string;
  readonly receiveCount: number;
  readonly receivedAt = Date.now();
  /** Settles when the message was settled; the drain waits for it. */
  done = notStarted;
  private controller: AbortController | undefined;
  private child: Logger | undefined;

  constructor(
    readonly message: Message,
    readonly receiptHandle: string,
    readonly maxReceiveCount: number | undefined,
    private readonly parentLogger: Logger,
  ) {
    this.messageId = message.MessageId ?? 'unknown';
    this.receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? '1');
  }

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  /** What the outcome decisions read: the signal if one was made, else one nothing aborted. */
  get decisionSignal(): AbortSignal {
    return this.controller?.signal ?? neverAborted;
  }

  get logger(): Logger {
    return (this.child ??= this.parentLogger.child({ messageId: this.messageId, receiveCount: this.receiveCount }));
  }

  /** The first reason wins: a lost lease stays the reason even if shutdown aborts later. */
  abort(reason: Error): void {
    const controller = (this.controller ??= new AbortController());
    if (!controller.signal.aborted) controller.abort(reason);
  }

  leaseLost(reason: string): void {
    this.logger.error({ reason }, 'lost lease: aborting the job; another worker may own the message now, so this one writes no outcome');
    this.abort(new LeaseLostError(reason));
  }
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
  private readonly inFlight = new Map<string, Delivery>();
  private readonly receives = new Set<Promise<void>>();
  /** Start times of receive requests under way (not of waits on gates or back-off pauses). */
  private readonly receiveStarts = new Map<symbol, number>();
  /** Receives held by a gate or backing off after a failure. */
  private paused = 0;
  private idleSince = Date.now();
  private readonly deleter: BatchDeleter;
  private readonly heartbeat: Heartbeat;
  private readonly visibilityTimeoutSeconds: number;
  private readonly waitTimeSeconds: number;
  /** Undefined without tracing: the handler is then called directly, without a wrapper or its ProcessInfo. */
  private readonly instrumentation: QueueInstrumentation | undefined;
  private readonly systemAttributes: MessageSystemAttributeName[];
  /** Ends waits on gates and back-off pauses at shutdown. */
  private readonly receiving = new AbortController();
  /** Cuts off receive requests themselves: only when one hangs past the shutdown deadline. */
  private readonly hardStop = new AbortController();
  /** Handlers running now. */
  private handling = 0;
  /** Slots promised to receives still in progress. */
  private reserved = 0;
  private failures = 0;
  private pumpScheduled = false;
  private started = false;
  private stopped = false;

  constructor(private readonly options: ConsumerOptions<S>) {
    // One listener per receive in flight, removed when it returns: as many as the concurrency allows, not a leak.
    setMaxListeners(0, this.hardStop.signal);
    this.deleter = new BatchDeleter(options.sqs, options.queueUrl);
    this.visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? envDefaults.VISIBILITY_TIMEOUT_SECONDS;
    this.heartbeat = new Heartbeat({ sqs: options.sqs, queueUrl: options.queueUrl, visibilityTimeoutSeconds: this.visibilityTimeoutSeconds });
    this.waitTimeSeconds = options.waitTimeSeconds ?? maxWaitTimeSeconds;
    this.instrumentation = options.instrumentation === noInstrumentation ? undefined : options.instrumentation;
    // The receive count decides the last attempt; the send time only feeds tracing's receive latency.
    this.systemAttributes = this.instrumentation ? ['ApproximateReceiveCount', 'SentTimestamp'] : ['ApproximateReceiveCount'];
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

  /** The loop's state for `/healthz`: a loop busy with long jobs is healthy, however long they run. */
  health(now = Date.now()): LoopHealth {
    const base = { name: this.name, inFlight: this.inFlight.size, concurrency: this.options.concurrency };
    if (!this.running) return { ...base, state: 'stopped', since: now };
    if (this.receiveStarts.size > 0) return { ...base, state: 'receiving', since: Math.min(...this.receiveStarts.values()) };
    if (this.paused > 0) return { ...base, state: 'paused', since: now };
    if (this.options.concurrency - this.handling - this.reserved <= 0) return { ...base, state: 'busy', since: now };
    return { ...base, state: 'idle', since: this.idleSince };
  }

  /** The long poll this consumer asks SQS for, in seconds. */
  get waitSeconds(): number {
    return this.waitTimeSeconds;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.pump();
  }

  /**
   * Stops receiving. Receive requests already under way are not cut off (SQS may already have handed
   * their messages out, and an aborted response would hide them for a whole visibility timeout): they
   * return, and what they bring back is made visible again at once. Waits on gates and pauses end now.
   * `deadlineMs` bounds the wait for a receive that hangs; after it the request is aborted.
   */
  async stopReceiving(deadlineMs = (this.waitTimeSeconds + 5) * 1000): Promise<void> {
    this.stopped = true;
    this.receiving.abort();
    const all = Promise.all([...this.receives]);
    const timer = setTimeout(() => this.hardStop.abort(), deadlineMs);
    try {
      await all;
    } finally {
      clearTimeout(timer);
    }
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
    for (const f of pending) f.abort(new Error(reason));
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
      this.idleSince = Date.now();
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
      await this.waitForGates();
      if (this.stopped) return;
      messages = await this.receive(count);
      this.failures = 0;
    } catch (err) {
      if (!this.stopped) {
        this.failures += 1;
        const waitMs = Math.min(30_000, 500 * 2 ** Math.min(this.failures, 6));
        this.options.logger.error({ err: errorMessage(err), waitMs }, 'receive failed; polling again after a pause');
        this.paused += 1;
        await abortableSleep(waitMs, this.receiving.signal);
        this.paused -= 1;
      }
    } finally {
      this.reserved -= count;
      this.idleSince = Date.now();
    }
    if (messages.length > 0) this.options.observer?.received?.(messages.length);
    if (this.stopped) {
      // Received while shutting down: nobody here will start them, so others may have them now.
      await this.releaseAtOnce(messages);
      return;
    }
    for (const message of messages) this.dispatch(message);
    if (messages.length > 0) this.options.observer?.inFlightChanged?.(this.inFlight.size);
    this.pump();
  }

  private async waitForGates(): Promise<void> {
    const gates = this.options.gates ?? [];
    if (gates.length === 0) return;
    this.paused += 1;
    try {
      for (const gate of gates) await gate.whenClosed(this.receiving.signal);
    } finally {
      this.paused -= 1;
    }
  }

  /** Makes messages visible again now, ten per call; a failure leaves them to their visibility timeout. */
  private async releaseAtOnce(messages: Message[]): Promise<void> {
    const handles = messages.map((m) => m.ReceiptHandle).filter((h): h is string => h !== undefined);
    for (let i = 0; i < handles.length; i += 10) {
      const batch = handles.slice(i, i + 10);
      try {
        await this.options.sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: batch.map((ReceiptHandle, j) => ({ Id: String(i + j), ReceiptHandle, VisibilityTimeout: 0 })),
          }),
        );
      } catch (err) {
        this.options.logger.warn({ err: errorMessage(err), count: batch.length }, 'could not release messages received during shutdown; they return after their visibility timeout');
      }
    }
    if (handles.length > 0) this.options.logger.info({ count: handles.length }, 'released messages received while shutting down');
  }

  private async receive(max: number): Promise<Message[]> {
    const key = Symbol('receive');
    this.receiveStarts.set(key, Date.now());
    try {
      return await this.receiveRequest(max);
    } finally {
      this.receiveStarts.delete(key);
    }
  }

  /** Each receive gets its own signal, tied to the hard stop, so the SDK's listeners go with the request. */
  private async receiveRequest(max: number): Promise<Message[]> {
    const own = new AbortController();
    const cut = () => own.abort();
    this.hardStop.signal.addEventListener('abort', cut, { once: true });
    try {
      return await this.receiveWith(max, own.signal);
    } finally {
      this.hardStop.signal.removeEventListener('abort', cut);
    }
  }

  private async receiveWith(max: number, signal: AbortSignal): Promise<Message[]> {
    const res = await this.options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: this.waitTimeSeconds,
        VisibilityTimeout: this.visibilityTimeoutSeconds,
        MessageSystemAttributeNames: this.systemAttributes,
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: signal },
    );
    return res.Messages ?? [];
  }

  private dispatch(message: Message): void {
    const receiptHandle = message.ReceiptHandle;
    if (!receiptHandle) return;
    const delivery = new Delivery(message, receiptHandle, this.options.redrive?.maxReceiveCount, this.options.logger);
    this.handling += 1;
    // Keyed by receipt handle, not message id: a message redelivered while its first copy still runs
    // (a lost heartbeat) is two deliveries, and each must be drained on its own.
    this.inFlight.set(receiptHandle, delivery);
    delivery.done = this.handle(delivery);
  }

  /** Never rejects: the drain awaits it. */
  private async handle(delivery: Delivery): Promise<void> {
    const started = performance.now();
    this.heartbeat.add(delivery, delivery.receivedAt);
    let outcome: Outcome;
    try {
      const body = this.parse(delivery.message.Body ?? '');
      outcome = await (this.instrumentation
        ? this.instrumentation.process(this.processInfo(delivery), () => this.options.handler(body, delivery))
        : this.options.handler(body, delivery));
    } catch (err) {
      outcome = outcomeForError(err, delivery.decisionSignal);
    } finally {
      this.heartbeat.delete(delivery);
      this.handling -= 1;
      this.schedulePump();
    }
    outcome = outcomeUnderLease(outcome, delivery.decisionSignal);
    try {
      await this.settle(delivery, outcome);
    } catch (err) {
      // The message becomes visible again when its timeout runs out and is handled once more;
      // outputs are idempotent, so that repeats work rather than losing it.
      delivery.logger.error({ err: errorMessage(err), outcome: outcome.kind }, 'could not settle message; it will be redelivered');
    } finally {
      this.inFlight.delete(delivery.receiptHandle);
      this.options.observer?.inFlightChanged?.(this.inFlight.size);
    }
    this.options.observer?.settled?.(outcome, performance.now() - started);
  }

  private processInfo({ message, messageId, receiveCount, receivedAt }: Delivery): ProcessInfo {
    const sentAt = Number(message.Attributes?.SentTimestamp ?? receivedAt);
    return {
      queueUrl: this.options.queueUrl,
      messageId,
      receiveCount,
      receiveLatencyMs: Math.max(0, receivedAt - sentAt),
      attributes: message.MessageAttributes ?? {},
      bodySize: Buffer.byteLength(message.Body ?? ''),
    };
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

  private async settle(delivery: Delivery, outcome: Outcome): Promise<void> {
    const { sqs, queueUrl, redrive } = this.options;
    const { message, receiptHandle, receiveCount } = delivery;
    switch (outcome.kind) {
      case 'done':
      case 'failed':
        await this.deleter.delete(receiptHandle);
        return;
      case 'retry': {
        const last = isLastAttempt(receiveCount, redrive?.maxReceiveCount);
        // On the last attempt, let SQS move it to the DLQ at the next receive instead of after a delay.
        const delay = last ? 0 : retryDelaySeconds(receiveCount);
        delivery.logger.warn({ reason: outcome.reason, retryInSeconds: delay, lastAttempt: last }, 'transient failure; message will be retried');
        await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: delay }));
        return;
      }
      case 'release':
        if (outcome.infrastructure && isLastAttempt(receiveCount, redrive?.maxReceiveCount) && (await this.renew(delivery, outcome.delaySeconds))) {
          return;
        }
        delivery.logger.info({ reason: outcome.reason, delaySeconds: outcome.delaySeconds }, 'message released: not its fault');
        await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: outcome.delaySeconds }));
        return;
      case 'abandoned':
        return;
      case 'dead-letter':
        if (!redrive) {
          // Without a DLQ there is nowhere safe to put it: leave it to expire visibly in the logs rather than drop it.
          delivery.logger.error({ reason: outcome.reason }, 'unusable message and the queue has no RedrivePolicy; leaving it on the queue');
          await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: 900 }));
          return;
        }
        delivery.logger.error({ reason: outcome.reason, deadLetterQueueUrl: redrive.deadLetterQueueUrl }, 'unusable message moved to the dead-letter queue');
        await sendToDeadLetter(sqs, redrive.deadLetterQueueUrl, message, outcome.reason);
        await this.deleter.delete(receiptHandle);
        return;
    }
  }

  /**
   * An outage is not the message's fault: on its last delivery, rather than let SQS dead-letter it at the
   * next receive, a fresh copy (receive count 1) replaces it. False when the copy could not be sent.
   */
  private async renew({ message, receiptHandle, logger }: Delivery, delaySeconds: number): Promise<boolean> {
    try {
      await this.options.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.options.queueUrl,
          MessageBody: message.Body ?? '',
          DelaySeconds: Math.min(900, delaySeconds),
          ...(message.MessageAttributes && Object.keys(message.MessageAttributes).length > 0 ? { MessageAttributes: message.MessageAttributes } : {}),
        }),
      );
    } catch (err) {
      logger.warn({ err: errorMessage(err) }, 'could not renew a message whose last attempt met an outage; releasing it instead');
      return false;
    }
    await this.deleter.delete(receiptHandle);
    logger.warn({ delaySeconds }, 'last attempt met an outage: the message was re-sent with a fresh retry budget');
    return true;
  }
}
