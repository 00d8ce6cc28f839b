import type { Logger } from 'pino';
import type { AwsClients } from '../aws/clients.js';
import { errorMessage, isInfrastructureError } from '../contract/errors.js';
import { abortableSleep, jitteredBackoff } from './backoff.js';

/** A cheap call to the guarded service; it resolves when the service answers. */
export type Probe = (signal: AbortSignal) => Promise<unknown>;

export interface CircuitBreakerOptions {
  /** The guarded service, as logs name it: `s3`, `sqs`. */
  service: string;
  probe: Probe;
  logger: Logger;
  /** The first probe's delay before jitter; each failed probe doubles it, up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
}

/**
 * One per service per process, shared by every stage. A call to the service failing with an
 * infrastructure error (throttling, 5xx, timeout, network) opens it; while it is open, receives wait in
 * `whenClosed`, so no stage takes work it could not finish, and the service is probed with capped,
 * jittered exponential backoff. The first probe the service answers closes it. Opening and closing are
 * logged once each, whatever the number of calls that failed in between.
 */
export class CircuitBreaker {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly random: () => number;
  private readonly stopping = new AbortController();
  private readonly waiters = new Set<() => void>();
  private isOpen = false;
  private openedAt = 0;
  private closedAt = -Infinity;
  /** Backoff step of the first probe of the current opening. */
  private firstAttempt = 0;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    this.random = options.random ?? Math.random;
  }

  get service(): string {
    return this.options.service;
  }

  get open(): boolean {
    return this.isOpen;
  }

  /** Resolves at once while closed; otherwise once closed, or when `signal` aborts, or at `stop()`. */
  whenClosed(signal: AbortSignal): Promise<void> {
    if (!this.isOpen || signal.aborted || this.stopping.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const release = () => {
        this.waiters.delete(release);
        signal.removeEventListener('abort', release);
        resolve();
      };
      this.waiters.add(release);
      signal.addEventListener('abort', release, { once: true });
    });
  }

  /**
   * A call to the service failed with `err`. Opens the breaker when `err` is an infrastructure error, unless
   * the call started before the breaker last closed: it reports the outage already over, not a new one.
   */
  recordFailure(err: unknown, callStartedAt = Date.now()): void {
    if (this.isOpen || this.stopping.signal.aborted || !isInfrastructureError(err)) return;
    if (callStartedAt < this.closedAt) return;
    this.isOpen = true;
    this.openedAt = Date.now();
    // Reopened soon after closing: the probe answers while real calls still fail (throttling of some
    // keys, say). Each such reopening starts probing one step later, so receives back off too.
    this.firstAttempt = this.openedAt - this.closedAt < this.maxDelayMs ? this.firstAttempt + 1 : 0;
    this.options.logger.warn(
      { service: this.service, err: errorMessage(err), errorName: err instanceof Error ? err.name : undefined },
      `${this.service} is failing: receives paused while it is probed`,
    );
    void this.probeUntilAnswered();
  }

  /** Ends probing at shutdown and lets every waiter go. */
  stop(): void {
    this.stopping.abort();
    for (const release of [...this.waiters]) release();
  }

  /** Delay before probe number `attempt` (0-based): exponential, capped, and jittered over its upper half. */
  probeDelayMs(attempt: number): number {
    return jitteredBackoff(attempt, this.baseDelayMs, this.maxDelayMs, this.random);
  }

  private async probeUntilAnswered(): Promise<void> {
    const signal = this.stopping.signal;
    for (let attempt = this.firstAttempt; ; attempt++) {
      await abortableSleep(this.probeDelayMs(attempt), signal);
      if (signal.aborted) return;
      try {
        await this.options.probe(signal);
      } catch (err) {
        if (signal.aborted) return;
        // An answer that is not an outage (access denied, no such bucket) still means the service is
        // up: staying open on it would stop this worker for good, while the calls themselves say what is wrong.
        if (isInfrastructureError(err)) continue;
        this.options.logger.warn({ service: this.service, err: errorMessage(err) }, `${this.service} probe answered with an error that is not an outage`);
      }
      return this.close(attempt - this.firstAttempt + 1);
    }
  }

  private close(probes: number): void {
    this.isOpen = false;
    this.closedAt = Date.now();
    this.options.logger.info({ service: this.service, openForMs: this.closedAt - this.openedAt, probes }, `${this.service} answers again: receives resumed`);
    for (const release of [...this.waiters]) release();
  }
}

/** The part of an SDK client's middleware stack used here; S3Client's and SQSClient's both fit it. */
interface ObservableClient<A, R> {
  middlewareStack: {
    add(middleware: (next: (args: A) => Promise<R>) => (args: A) => Promise<R>, options: { step: 'initialize'; priority: 'high'; name: string }): void;
    remove(name: string): boolean;
  };
}

let observers = 0;

/**
 * Shows `breaker` every call `client` makes: an infrastructure error trips it (an abort never does), and
 * the error reaches the caller unchanged. Outermost in the stack, so it sees what the caller sees, after
 * the SDK's own retries. Returns the function that detaches it.
 */
export function observeCalls<A, R>(client: ObservableClient<A, R>, breaker: CircuitBreaker): () => void {
  const name = `circuitBreaker-${breaker.service}-${++observers}`;
  client.middlewareStack.add(
    (next) => async (args) => {
      const startedAt = Date.now();
      try {
        return await next(args);
      } catch (err) {
        breaker.recordFailure(err, startedAt);
        throw err;
      }
    },
    { step: 'initialize', priority: 'high', name },
  );
  return () => void client.middlewareStack.remove(name);
}

export interface ServiceBreakers {
  readonly s3: CircuitBreaker;
  readonly sqs: CircuitBreaker;
  /** Stops probing and detaches both from their clients. */
  stop(): void;
}

/** A breaker for S3 and one for SQS, each watching every call of its client. */
export function startCircuitBreakers(clients: AwsClients, probes: Record<keyof AwsClients, Probe>, logger: Logger): ServiceBreakers {
  const s3 = new CircuitBreaker({ service: 's3', probe: probes.s3, logger });
  const sqs = new CircuitBreaker({ service: 'sqs', probe: probes.sqs, logger });
  const detach = [observeCalls(clients.s3, s3), observeCalls(clients.sqs, sqs)];
  return {
    s3,
    sqs,
    stop() {
      for (const d of detach) d();
      s3.stop();
      sqs.stop();
    },
  };
}
