import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ConsumerObserver } from '../queue/consumer.js';
import type { OutcomeKind } from '../queue/outcome.js';
import type { StageName } from '../contract/stages.js';

const settledCounter: Record<OutcomeKind, 'succeeded' | 'failed' | 'retried' | 'deadLettered' | 'released' | 'abandoned'> = {
  done: 'succeeded',
  failed: 'failed',
  retry: 'retried',
  'dead-letter': 'deadLettered',
  release: 'released',
  abandoned: 'abandoned',
};

/** Prometheus metrics per stage, fed by the consumers' observer callbacks. */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly received = this.counter('stageline_messages_received_total', 'Messages received');
  private readonly succeeded = this.counter('stageline_messages_succeeded_total', 'Messages whose stage finished and were deleted');
  private readonly failed = this.counter('stageline_messages_failed_total', 'Jobs failed for bad input (message deleted)');
  private readonly retried = this.counter('stageline_messages_retried_total', 'Transient failures left for redelivery');
  private readonly deadLettered = this.counter('stageline_messages_dead_lettered_total', 'Unusable messages moved to the DLQ');
  private readonly released = this.counter('stageline_messages_released_total', 'Messages released unfinished (shutdown, or S3/SQS failing)');
  private readonly abandoned = this.counter('stageline_messages_lease_lost_total', 'Jobs aborted because their message lease was lost');
  private readonly inFlight = new Gauge({ name: 'stageline_messages_in_flight', help: 'Messages being handled', labelNames: ['stage'], registers: [this.registry] });
  private readonly duration = new Histogram({
    name: 'stageline_message_duration_seconds',
    help: 'Time from receive to settle, per stage and outcome',
    labelNames: ['stage', 'outcome'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  observer(stage: StageName, onInFlight?: (n: number) => void): ConsumerObserver {
    return {
      received: (n) => this.received.inc({ stage }, n),
      settled: (outcome, ms) => {
        this[settledCounter[outcome.kind]].inc({ stage });
        this.duration.observe({ stage, outcome: outcome.kind }, ms / 1000);
      },
      inFlightChanged: (n) => {
        this.inFlight.set({ stage }, n);
        onInFlight?.(n);
      },
    };
  }

  private counter(name: string, help: string): Counter<'stage'> {
    return new Counter({ name, help, labelNames: ['stage'], registers: [this.registry] });
  }
}
