import type { Logger } from 'pino';
import { AbortedError, BadInputError, BadMessageError, errorMessage } from '../errors.js';
import type { Handler, MessageContext } from '../queue/consumer.js';
import { done, type Outcome } from '../queue/outcome.js';
import type { Channel, Publisher } from '../queue/publisher.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { IngestionMessage, RequestedJob } from './ingestion-request.js';
import { requestedJobs } from './ingestion-request.js';
import type { JobEvents } from './job-events.js';
import type { JobStatusStore } from './job-status.js';
import { detectKind, sniffBytes } from './kind-detection.js';
import {
  AudioOptions,
  CsvOptions,
  nextStage,
  type JobMessage,
  type StageName,
} from './messages.js';
import { runStageTasks, type TaskRunnerDeps } from './task-runner.js';

export interface PipelineDeps extends TaskRunnerDeps {
  store: ObjectStore;
  statuses: JobStatusStore;
  events: JobEvents;
  publisher: Publisher;
  /** Where each stage's finished jobs go: the validation and analysis queues. */
  nextChannels: Partial<Record<StageName, Channel<typeof JobMessage>>>;
  /** Errors worth a person's attention (Sentry in production). */
  reportError?: (err: unknown, tags: { jobId: string; stage: StageName; messageId: string }) => void;
}

type JobIdentity = Pick<JobMessage, 'jobId' | 'input'> & { kind?: JobMessage['kind'] };

/** The ingestion queue's handler: one message may ask for several jobs (an S3 event with several records). */
export function ingestionHandler(deps: PipelineDeps): Handler<IngestionMessage> {
  return async (message, ctx) => {
    const jobs = requestedJobs(message, { defaultBucket: deps.store.bucket, messageId: ctx.messageId });
    if (jobs.length === 0) ctx.logger.info('S3 test event or no created objects: acknowledged');
    let outcome: Outcome = done;
    for (const request of jobs) {
      const result = await tracked(deps, 'ingestion', request, ctx, (logger) => ingest(deps, request, ctx.signal, logger));
      // The whole message is retried or released if any of its jobs must be; finished ones repeat harmlessly.
      if (result.kind === 'retry' || result.kind === 'release') outcome = result;
    }
    return outcome;
  };
}

/** The validation and analysis queues' handler. */
export function stageHandler(deps: PipelineDeps, stage: Exclude<StageName, 'ingestion'>): Handler<JobMessage> {
  return (job, ctx) => tracked(deps, stage, job, ctx, (logger) => runAndForward(deps, stage, job, ctx.signal, logger));
}

async function ingest(deps: PipelineDeps, request: RequestedJob, signal: AbortSignal, logger: Logger): Promise<void> {
  const info = await deps.store.head(request.input, signal);
  if (info.size === 0) {
    throw new BadInputError('INPUT_EMPTY', `The input s3://${request.input.bucket}/${request.input.key} is empty (0 bytes). Upload the file again.`);
  }
  const kind = request.kind ?? detectKind(await deps.store.readHead(request.input, sniffBytes, signal));
  if (!kind) {
    throw new BadInputError(
      'UNSUPPORTED_INPUT',
      `Cannot tell what s3://${request.input.bucket}/${request.input.key} is: it is neither a known audio container nor CSV text. Upload audio (WAV, MP3, FLAC, Ogg, M4A…) or a CSV (optionally .gz), or set "kind" in the job request.`,
    );
  }
  const job: JobMessage = {
    jobId: request.jobId,
    kind,
    input: request.input,
    outputs: {},
    ...(kind === 'csv' ? { csv: request.csv ?? CsvOptions.parse({}) } : {}),
    ...(kind === 'audio' ? { audio: request.audio ?? AudioOptions.parse({}) } : {}),
  };
  await runAndForward(deps, 'ingestion', job, signal, logger);
}

/** Runs the stage's tasks, records success, then sends the job on (or, after the last stage, announces it). */
async function runAndForward(deps: PipelineDeps, stage: StageName, job: JobMessage, signal: AbortSignal, logger: Logger): Promise<void> {
  const outputs = await runStageTasks(deps, stage, job, signal, logger);
  const next = nextStage(stage);
  const status = await deps.statuses.stageSucceeded(job, stage, outputs, next === undefined);
  if (next === undefined) {
    await deps.events.succeeded(status);
    logger.info({ outputs: status.outputs }, 'job succeeded');
    return;
  }
  const channel = deps.nextChannels[next];
  if (!channel) throw new Error(`no queue configured for the ${next} stage`);
  await deps.publisher.publish(channel, { ...job, outputs: { ...job.outputs, ...outputs } });
  logger.info({ next }, 'stage succeeded; job sent on');
}

/**
 * Runs one job's stage with its status kept up to date, and decides the message's outcome from
 * what was thrown: bad input fails the job for good, an interruption releases the message, anything
 * else is retried until the queue's maxReceiveCount sends it to the DLQ.
 */
async function tracked(
  deps: PipelineDeps,
  stage: StageName,
  job: JobIdentity,
  ctx: MessageContext,
  work: (logger: Logger) => Promise<void>,
): Promise<Outcome> {
  const logger = ctx.logger.child({ jobId: job.jobId, stage });
  try {
    await deps.statuses.stageStarted(job, stage, ctx.receiveCount);
    await work(logger);
    return done;
  } catch (err) {
    if (err instanceof BadMessageError) throw err;
    if (ctx.signal.aborted || err instanceof AbortedError) {
      return { kind: 'release', reason: errorMessage(ctx.signal.reason ?? err), delaySeconds: 0, infrastructure: false };
    }
    if (err instanceof BadInputError) {
      const error = { code: err.code, message: err.message };
      logger.warn({ code: err.code, err: err.message }, 'job failed: bad input');
      const status = await deps.statuses.stageFailed(job, stage, error, true);
      await deps.events.failed(status, stage, error);
      return { kind: 'failed', ...error };
    }
    return retryLater(deps, stage, job, ctx, logger, err);
  }
}

async function retryLater(deps: PipelineDeps, stage: StageName, job: JobIdentity, ctx: MessageContext, logger: Logger, err: unknown): Promise<Outcome> {
  const last = ctx.maxReceiveCount !== undefined && ctx.receiveCount >= ctx.maxReceiveCount;
  const reason = errorMessage(err);
  logger.error({ err: reason, attempt: ctx.receiveCount, lastAttempt: last }, 'stage failed; will retry');
  deps.reportError?.(err, { jobId: job.jobId, stage, messageId: ctx.messageId });
  const error = last
    ? {
        code: 'DEAD_LETTERED',
        message: `Gave up after ${ctx.receiveCount} attempts; the message goes to the ${stage} dead-letter queue. Last error: ${reason}. Fix the cause, then run \`stageline dlq ${stage} --redrive\`.`,
      }
    : { code: 'TRANSIENT_ERROR', message: `Attempt ${ctx.receiveCount} failed and will be retried: ${reason}` };
  try {
    const status = await deps.statuses.stageFailed(job, stage, error, last);
    if (last) await deps.events.failed(status, stage, error);
  } catch (statusErr) {
    logger.error({ err: errorMessage(statusErr) }, 'could not record the failure in the job status');
  }
  return { kind: 'retry', reason };
}
