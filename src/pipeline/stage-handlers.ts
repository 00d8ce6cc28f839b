import type { Logger } from 'pino';
import type { z } from 'zod';
import { BadInputError, errorMessage } from '../contract/errors.js';
import type { Config } from '../contract/env.js';
import type { IngestionMessage, JobMessage } from '../contract/job.js';
import { nextStage, type StageName } from '../contract/stages.js';
import type { JobIdentity } from '../contract/status-document.js';
import type { Handler, MessageContext } from '../queue/consumer.js';
import { combinedOutcome, done, isLastAttempt, outcomeForError, type Outcome } from '../queue/outcome.js';
import type { Channel, Publisher } from '../queue/publisher.js';
import type { ObjectStore } from '../storage/object-store.js';
import { admit, type AdmissionDeps } from './admission.js';
import { requestedJobs, type RequestedJob } from './ingestion-request.js';
import type { JobEvents } from './job-events.js';
import { keepRequest } from './job-retry.js';
import { JobIdConflictError, type JobStatusStore, type StatusWrite } from './job-status.js';
import { checkJobReads, detectKind, kindDefinition, sniffBytes } from './kinds.js';
import { progressReporter } from './progress-reporter.js';
import { isFinal } from './status-transitions.js';
import type { KindDefinition } from './task.js';
import { runStageTasks, type TaskRunnerDeps } from './task-runner.js';

export interface PipelineDeps extends TaskRunnerDeps, AdmissionDeps {
  store: ObjectStore;
  statuses: JobStatusStore;
  events: JobEvents;
  publisher: Publisher;
  /** Where each stage's finished jobs go: the validation and analysis queues. */
  nextChannels: Partial<Record<StageName, Channel<z.ZodType<JobMessage>>>>;
  /** The kinds of job the plug-ins define: detection, option defaults, what a job's options make it read. */
  kinds: readonly KindDefinition[];
  /** The process configuration: MAX_INPUT_BYTES (a larger input fails at ingestion, from its HeadObject size), and what a kind's confirmation runs with. */
  config: Config;
  /** Errors worth a person's attention (Sentry in production). */
  reportError?: (err: unknown, tags: { jobId: string; stage: StageName; messageId: string }) => void;
}

/** The ingestion queue's handler: one message may ask for several jobs (an S3 event with several records). */
export function ingestionHandler(deps: PipelineDeps): Handler<IngestionMessage> {
  return async (message, ctx) => {
    const jobs = requestedJobs(message, { defaultBucket: deps.store.bucket, messageId: ctx.messageId });
    if (jobs.length === 0) ctx.logger.info('S3 test event or no created objects: acknowledged');
    const outcomes: Outcome[] = [];
    for (const request of jobs) {
      outcomes.push(await tracked(deps, 'ingestion', request, ctx, (logger, started) => ingest(deps, request, ctx, logger, started), (logger) => admit(deps, request, ctx.signal, logger)));
    }
    return combinedOutcome(outcomes);
  };
}

/** The validation and analysis queues' handler. */
export function stageHandler(deps: PipelineDeps, stage: Exclude<StageName, 'ingestion'>): Handler<JobMessage> {
  return (job, ctx) =>
    tracked(deps, stage, job, ctx, (logger, started) => {
      // A stage message is judged as a job request is: whoever could send it names what gets read.
      checkJobReads(deps.store.inputScope, deps.kinds, job);
      return runAndForward(deps, stage, job, ctx, logger, started);
    });
}

async function ingest(deps: PipelineDeps, request: RequestedJob, ctx: MessageContext, logger: Logger, started: StatusWrite): Promise<void> {
  const { signal } = ctx;
  checkJobReads(deps.store.inputScope, deps.kinds, request);
  // The dashboard's retry sends the request again, options included: the status document has none.
  await keepRequest(deps.store, request, signal);
  const info = await deps.store.head(request.input, signal);
  const maxInputBytes = deps.config.MAX_INPUT_BYTES;
  if (info.size > maxInputBytes) {
    throw new BadInputError(
      'INPUT_TOO_LARGE',
      `The input s3://${request.input.bucket}/${request.input.key} is ${info.size} bytes, more than MAX_INPUT_BYTES (${maxInputBytes}). Split it, or ask the operator to raise MAX_INPUT_BYTES.`,
    );
  }
  if (info.size === 0) {
    throw new BadInputError('INPUT_EMPTY', `The input s3://${request.input.bucket}/${request.input.key} is empty (0 bytes). Upload the file again.`);
  }
  const kind =
    request.kind ??
    (await detectKind(deps.kinds, await deps.store.readHead(request.input, sniffBytes, signal), (def) => def.confirm?.(request.input, deps.store, signal, deps.config) ?? Promise.resolve(false)));
  if (!kind) {
    throw new BadInputError(
      'UNSUPPORTED_INPUT',
      `Cannot tell what s3://${request.input.bucket}/${request.input.key} is: it is neither a known audio or video container nor CSV text. Upload audio (WAV, MP3, FLAC, Ogg, M4A…), video (MP4, MOV, Matroska/WebM, MPEG-TS) or a CSV (optionally .gz), or set "kind" in the job request.`,
    );
  }
  const job: JobMessage = {
    jobId: request.jobId,
    kind,
    input: request.input,
    outputs: {},
    // Only the job's own kind's options travel on, with that kind's defaults filled in.
    [kind]: request[kind] ?? kindDefinition(deps.kinds, kind).options.parse({}),
  };
  await runAndForward(deps, 'ingestion', job, ctx, logger, started);
}

/**
 * Runs the stage's tasks, records success, then sends the job on (or, after the last stage, announces
 * it: only the writer whose write made the job succeed publishes the event). A job that became final
 * meanwhile (another delivery of it finished or failed it) is not sent on.
 */
async function runAndForward(deps: PipelineDeps, stage: StageName, job: JobMessage, ctx: MessageContext, logger: Logger, started: StatusWrite): Promise<void> {
  const progress = progressReporter({ write: (p) => deps.statuses.stageProgress(job, stage, ctx.receiveCount, p, ctx.signal) });
  const outputs = await runStageTasks(deps, stage, job, ctx.signal, logger, progress.report).finally(() => progress.stop());
  const next = nextStage(stage);
  const { status, becameFinal } = await deps.statuses.stageSucceeded(job, stage, ctx.receiveCount, outputs, next === undefined, ctx.signal, started.version);
  if (next === undefined) {
    if (becameFinal) await deps.events.succeeded(status, ctx.signal);
    logger.info({ outputs: status.outputs, announced: becameFinal }, 'job succeeded');
    return;
  }
  if (isFinal(status)) {
    logger.warn({ state: status.state }, 'stage finished but the job is already final: not sending it on');
    return;
  }
  const channel = deps.nextChannels[next];
  if (!channel) throw new Error(`no queue configured for the ${next} stage`);
  await deps.publisher.publish(channel, { ...job, outputs: { ...job.outputs, ...outputs } });
  logger.info({ next }, 'stage succeeded; job sent on');
}

/**
 * Runs one job's stage with its status kept up to date. A delivery for a job that is already final
 * does no work and is acknowledged. What an error means is decided once, by outcomeForError; the
 * status follows the outcome: failed is recorded (and announced by the write that made the job
 * final), retry records the attempt's error, release and abandoned write nothing (the message is not
 * this attempt's to judge). Dead-lettering is recorded by the DLQ watcher, whatever took the message there.
 */
async function tracked(
  deps: PipelineDeps,
  stage: StageName,
  job: JobIdentity,
  ctx: MessageContext,
  /** The stage's work, given the status its start wrote. */
  work: (logger: Logger, started: StatusWrite) => Promise<void>,
  admission?: (logger: Logger) => Promise<'run' | 'held'>,
): Promise<Outcome> {
  const logger = ctx.logger.child({ jobId: job.jobId, stage });
  try {
    // A delayed, cancelled or duplicate request is settled before the stage starts.
    if (admission && (await admission(logger)) === 'held') return done;
    const started = await deps.statuses.stageStarted(job, stage, ctx.receiveCount, ctx.signal);
    if (isFinal(started.status)) {
      logger.info({ state: started.status.state }, 'the job is already final: delivery acknowledged without work');
      return done;
    }
    await work(logger, started);
    return done;
  } catch (err) {
    const outcome = outcomeForError(err, ctx.signal);
    try {
      await recordOutcome(deps, stage, job, ctx, logger, err, outcome);
    } catch (statusErr) {
      // The status could not be brought up to date (the signal fired while S3 was failing, or the
      // document is unreadable): what that error means decides the message instead.
      logger.error({ err: errorMessage(statusErr), outcome: outcome.kind }, 'could not record the outcome in the job status');
      return outcomeForError(statusErr, ctx.signal);
    }
    return outcome;
  }
}

async function recordOutcome(deps: PipelineDeps, stage: StageName, job: JobIdentity, ctx: MessageContext, logger: Logger, err: unknown, outcome: Outcome): Promise<void> {
  switch (outcome.kind) {
    case 'failed': {
      if (err instanceof JobIdConflictError) {
        // The jobId is another job's: the refused request has no job of its own, so nothing is written
        // or announced under that jobId (an event would tell its consumers the other job failed).
        logger.warn({ code: outcome.code, input: job.input, existingInput: err.existingInput }, 'request refused: its jobId belongs to a job with another input');
        return;
      }
      const error = { code: outcome.code, message: outcome.message };
      logger.warn({ code: outcome.code, err: outcome.message }, 'job failed: bad input');
      const { status, becameFinal } = await deps.statuses.stageFailed(job, stage, ctx.receiveCount, error, ctx.signal);
      if (becameFinal) await deps.events.failed(status, stage, error, ctx.signal);
      return;
    }
    case 'retry': {
      const last = isLastAttempt(ctx.receiveCount, ctx.maxReceiveCount);
      logger.error({ err: outcome.reason, attempt: ctx.receiveCount, lastAttempt: last }, 'stage failed; will retry');
      deps.reportError?.(err, { jobId: job.jobId, stage, messageId: ctx.messageId });
      const message = last
        ? `Attempt ${ctx.receiveCount} failed, the last before the dead-letter queue: ${outcome.reason}`
        : `Attempt ${ctx.receiveCount} failed and will be retried: ${outcome.reason}`;
      await deps.statuses.stageRetrying(job, stage, ctx.receiveCount, { code: 'TRANSIENT_ERROR', message }, ctx.signal);
      return;
    }
    case 'done':
    case 'dead-letter':
    case 'release':
    case 'abandoned':
      return;
  }
}
