import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { AwsClients } from '../aws/clients.js';
import { ConfigError, concurrencyVar, queueUrlFor, queueVar, requireBucket, type Config } from '../contract/env.js';
import { JobEvent, jobMessageSchemas, type IngestionMessage, type JobMessage } from '../contract/job.js';
import type { Schedule } from '../contract/schedules.js';
import { nextStage, type StageName } from '../contract/stages.js';
import { DeadLetterWatcher } from '../pipeline/dead-letter-watcher.js';
import { JobEvents } from '../pipeline/job-events.js';
import { JobIndex } from '../pipeline/job-index.js';
import { JobStatusStore, checkConditionalWrites } from '../pipeline/job-status.js';
import type { TaskRegistry } from '../pipeline/registry.js';
import { ingestionHandler, stageHandler, type PipelineDeps } from '../pipeline/stage-handlers.js';
import { startScheduler } from '../pipeline/schedules/scheduler.js';
import type { KindDefinition } from '../pipeline/task.js';
import { UniqueClaims } from '../pipeline/unique-claims.js';
import { InputScope } from '../storage/input-scope.js';
import { startCircuitBreakers } from '../queue/circuit-breaker.js';
import { maxWaitTimeSeconds, QueueConsumer, type ReceiveGate } from '../queue/consumer.js';
import { noInstrumentation, type QueueInstrumentation } from '../queue/instrumentation.js';
import { channel, Publisher } from '../queue/publisher.js';
import { resolveRedrive } from '../queue/redrive.js';
import { ObjectStore } from '../storage/object-store.js';
import { defaultTaskRegistry, kindDefinitions } from '../tasks/index.js';
import { startHttpServer } from './http-server.js';
import { loadSchedulesFile } from './schedules-file.js';
import { WorkerMetrics } from './metrics.js';

export interface WorkerOptions {
  config: Config;
  clients: AwsClients;
  logger: Logger;
  registry?: TaskRegistry;
  /** The kinds of job (detection, options); the plug-ins of src/tasks by default. */
  kinds?: readonly KindDefinition[];
  instrumentation?: QueueInstrumentation;
  reportError?: PipelineDeps['reportError'];
  /** Total messages in flight across stages, on every change (ECS scale-in protection listens). */
  onInFlightChanged?: (total: number) => void;
  /** Long-poll length; tests shorten it. By default the longest that still lets SIGTERM end on time. */
  waitTimeSeconds?: number;
  /** Held before every receive of every stage, besides the worker's own circuit breakers over S3 and SQS. */
  gates?: readonly ReceiveGate[];
  /** The longest hop of a delayed job (SQS allows 900 s); tests shorten it. */
  maxDelaySeconds?: number;
  /** `/healthz` limits; by default derived from the long poll. */
  health?: { maxReceiveMs?: number; maxIdleMs?: number };
  /** Periodic schedules, instead of reading SCHEDULES_FILE (tests). */
  schedules?: readonly Schedule[];
}

/**
 * The long poll: as long as SQS allows (20 s, fewest empty receives) but short enough that a receive
 * under way at SIGTERM returns, and its messages are released, inside DRAIN_TIMEOUT_SECONDS + 5 s.
 */
export function longPollSeconds(drainTimeoutSeconds: number): number {
  return Math.max(1, Math.min(maxWaitTimeSeconds, Math.floor(drainTimeoutSeconds) + 2));
}

/** A receive this long past its long poll has hung (the SQS client's own request timeout has passed too). */
const receiveGraceMs = 60_000;

export interface Worker {
  readonly consumers: QueueConsumer<z.ZodType<IngestionMessage> | z.ZodType<JobMessage>>[];
  readonly httpPort: number;
  /** SIGTERM semantics: stop receiving, drain, then abort and release what is left. */
  stop(): Promise<void>;
}

/** Wires queues, storage, pipeline and tasks into one polling loop per configured stage. */
export async function startWorker(options: WorkerOptions): Promise<Worker> {
  const { config, clients, logger } = options;
  const instrumentation = options.instrumentation ?? noInstrumentation;
  const store = new ObjectStore(clients.s3, requireBucket(config), InputScope.fromConfig(config));
  const publisher = new Publisher(clients.sqs, instrumentation);
  const metrics = new WorkerMetrics();
  const kinds = options.kinds ?? kindDefinitions;
  const messages = jobMessageSchemas(kinds);
  // A bad schedules file refuses the start before anything runs; ticks go to the ingestion queue even where this process does not poll it.
  const schedules = options.schedules ?? (config.SCHEDULES_FILE ? await loadSchedulesFile(config.SCHEDULES_FILE, kinds) : []);
  const schedulesQueueUrl = schedules.length > 0 ? queueUrlFor(config, 'ingestion') : undefined;
  const nextChannels: PipelineDeps['nextChannels'] = {};
  for (const stage of config.STAGES) {
    const next = nextStage(stage);
    if (next) nextChannels[next] = channel(next, queueUrlFor(config, next), messages.JobMessage);
  }
  // Every status change this worker writes moves the job's entry in the dashboard's index, behind the
  // write (nothing the pipeline does next depends on it), held a second so a short job moves once; stop waits for the moves.
  const index = JobIndex.forStore(store, { logger, background: true, holdMs: 1000 });
  const statuses = new JobStatusStore(store, { logger, index });
  // A registry passed in is its owner's to close; one built here is closed when the worker stops.
  const registry = options.registry ?? defaultTaskRegistry(config);
  const deps: PipelineDeps = {
    registry,
    kinds,
    store,
    statuses,
    claims: new UniqueClaims(store, statuses),
    // A delayed job waits in hops on the ingestion queue, sent by the stage that receives it.
    ...(config.STAGES.includes('ingestion') ? { ingestionChannel: channel('ingestion', queueUrlFor(config, 'ingestion'), messages.JobRequest) } : {}),
    ...(options.maxDelaySeconds !== undefined ? { maxDelaySeconds: options.maxDelaySeconds } : {}),
    events: new JobEvents(publisher, config.SQS_EVENTS_QUEUE_URL ? channel('events', config.SQS_EVENTS_QUEUE_URL, JobEvent) : undefined, { logger }),
    publisher,
    nextChannels,
    config,
    ...(options.reportError ? { reportError: options.reportError } : {}),
  };

  const inFlightByStage = new Map<StageName, number>();
  let inFlightTotal = 0;
  const onInFlight = (stage: StageName) => (n: number) => {
    inFlightTotal += n - (inFlightByStage.get(stage) ?? 0);
    inFlightByStage.set(stage, n);
    options.onInFlightChanged?.(inFlightTotal);
  };

  const waitTimeSeconds = options.waitTimeSeconds ?? longPollSeconds(config.DRAIN_TIMEOUT_SECONDS);
  // Every stage's queue and DLQ first: a refusal to start must leave nothing running behind it.
  const stages = await Promise.all(
    config.STAGES.map(async (stage) => {
      const queueUrl = queueUrlFor(config, stage);
      const redrive = await resolveRedrive(clients.sqs, queueUrl);
      if (!redrive) {
        if (!config.ALLOW_NO_REDRIVE) {
          throw new ConfigError(
            `${queueVar[stage]}: the ${stage} queue ${queueUrl} has no RedrivePolicy, so a poison message would be retried for ever; give it a dead-letter queue (maxReceiveCount 5), or set ALLOW_NO_REDRIVE=true`,
          );
        }
        logger.warn({ stage, queueUrl }, 'queue has no RedrivePolicy (ALLOW_NO_REDRIVE=true): unusable messages cannot be dead-lettered');
      }
      return { stage, queueUrl, redrive };
    }),
  );
  // Whatever takes a message to a stage's DLQ, this worker records the job as dead-lettered.
  const watchers = stages.flatMap(({ stage, redrive }) =>
    redrive
      ? [
          new DeadLetterWatcher({
            sqs: clients.sqs,
            stage,
            deadLetterQueueUrl: redrive.deadLetterQueueUrl,
            defaultBucket: store.bucket,
            messages,
            statuses: deps.statuses,
            events: deps.events,
            logger: logger.child({ stage, component: 'dlq-watcher' }),
          }),
        ]
      : [],
  );
  // One breaker per service for the process: while S3 or SQS fails, no stage receives, and a cheap call probes it.
  const probeQueueUrl = stages[0]!.queueUrl;
  const breakers = startCircuitBreakers(
    clients,
    {
      s3: (signal) => clients.s3.send(new HeadBucketCommand({ Bucket: store.bucket }), { abortSignal: signal }),
      sqs: (signal) => clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: probeQueueUrl, AttributeNames: ['QueueArn'] }), { abortSignal: signal }),
    },
    logger.child({ component: 'circuit-breaker' }),
  );
  const gates: readonly ReceiveGate[] = [breakers.s3, breakers.sqs, ...(options.gates ?? [])];
  const consumers = stages.map(({ stage, queueUrl, redrive }) => {
    const common = {
      name: stage,
      sqs: clients.sqs,
      queueUrl,
      concurrency: config[concurrencyVar[stage]],
      logger: logger.child({ stage }),
      visibilityTimeoutSeconds: config.VISIBILITY_TIMEOUT_SECONDS,
      instrumentation,
      observer: metrics.observer(stage, onInFlight(stage)),
      ...(redrive ? { redrive } : {}),
      waitTimeSeconds,
      gates,
    };
    return stage === 'ingestion'
      ? new QueueConsumer({ ...common, schema: messages.IngestionMessage, handler: ingestionHandler(deps) })
      : new QueueConsumer({ ...common, schema: messages.JobMessage, handler: stageHandler(deps, stage) });
  });

  let ready = false;
  let server: Server;
  try {
    server = await startHttpServer({
      port: config.HTTP_PORT,
      registry: metrics.registry,
      maxReceiveMs: options.health?.maxReceiveMs ?? waitTimeSeconds * 1000 + receiveGraceMs,
      ...(options.health?.maxIdleMs !== undefined ? { maxIdleMs: options.health.maxIdleMs } : {}),
      health: {
        ready: () => ready,
        loops: () => consumers.map((c) => c.health()),
      },
    });
  } catch (err) {
    // The port is taken, say: nothing may keep probing behind a worker that never started.
    breakers.stop();
    throw err;
  }
  void checkConditionalWrites(store, logger);
  for (const c of consumers) c.start();
  for (const w of watchers) w.start();
  const scheduler = schedulesQueueUrl
    ? startScheduler({
        schedules,
        store,
        statuses: deps.statuses,
        send: async (request) => void (await publisher.publish(channel('ingestion', schedulesQueueUrl, messages.JobRequest), request)),
        defaultBucket: store.bucket,
        logger,
      })
    : undefined;
  ready = true;
  const httpPort = (server.address() as AddressInfo).port;
  logger.info({ stages: config.STAGES, httpPort }, 'worker started');

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    ready = false;
    // First: no tick may start a job once stopping began (a tick being sent finishes, briefly).
    const schedulerStopped = scheduler?.stop();
    const watchersStopped = Promise.all(watchers.map((w) => w.stop()));
    const drainMs = config.DRAIN_TIMEOUT_SECONDS * 1000;
    // Receives under way return on their own (their messages are released at once) while jobs drain:
    // both fit the same window, so the process ends within DRAIN_TIMEOUT_SECONDS + 5 s.
    // A receive that has not returned well after its long poll has hung: it is cut off then.
    const receivesDone = Promise.all(consumers.map((c) => c.stopReceiving(Math.max(drainMs, waitTimeSeconds * 1000) + 1500)));
    const inFlight = consumers.reduce((n, c) => n + c.inFlightCount, 0);
    logger.info({ inFlight, drainTimeoutSeconds: config.DRAIN_TIMEOUT_SECONDS }, 'stopped receiving; draining');
    const drained = (await Promise.all(consumers.map((c) => c.drain(drainMs)))).every(Boolean);
    if (!drained) {
      logger.warn('drain timeout reached; aborting the remaining jobs and releasing their messages');
      await Promise.all(consumers.map((c) => c.abortInFlight('shutdown: drain timeout reached')));
    }
    await Promise.all([receivesDone, watchersStopped, schedulerStopped]);
    await index.settled();
    if (!options.registry) await registry.close();
    breakers.stop();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    logger.info({ drained }, 'worker stopped');
  };
  return {
    consumers,
    httpPort,
    stop: () => (stopping ??= stop()),
  };
}
