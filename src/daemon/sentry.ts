import * as Sentry from '@sentry/node';
import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { ProcessInfo, PublishInfo, QueueInstrumentation } from '../queue/instrumentation.js';

/** SQS accepts at most this many message attributes; trace propagation uses two of them. */
export const SQS_MAX_MESSAGE_ATTRIBUTES = 10;
const TRACE_ATTRIBUTES = ['sentry-trace', 'baggage'] as const;
type TraceData = ReturnType<typeof Sentry.getTraceData>;

export interface SentryOptions {
  /** Share of jobs traced; every stage of a traced job is kept, since the decision travels in `baggage`. */
  tracesSampleRate?: number;
  release?: string;
  environment?: string;
}

/**
 * Starts the Sentry client (errors and tracing). No preload (`--import`) is needed: stageline creates its
 * queue spans by hand, and Sentry's automatic library instrumentation is not relied upon.
 */
export function initSentry(dsn: string, options: SentryOptions = {}): void {
  Sentry.init({
    dsn,
    tracesSampleRate: options.tracesSampleRate ?? 1,
    ...(options.release ? { release: options.release } : {}),
    ...(options.environment ? { environment: options.environment } : {}),
    integrations: [
      // The only incoming requests are ECS health checks and metric scrapes: tracing them is noise.
      Sentry.httpIntegration({ disableIncomingRequestSpans: true }),
      // The worker logs stray rejections itself as JSON; Sentry still captures them, without a console warning.
      Sentry.onUnhandledRejectionIntegration({ mode: 'none' }),
    ],
  });
}

export interface JobErrorTags {
  jobId: string;
  stage: string;
  messageId: string;
}

/** Reports a job's failure with the tags an operator searches by. Returns the Sentry event id. */
export function captureJobError(err: unknown, tags: JobErrorTags): string {
  return Sentry.withScope((scope) => {
    scope.setTags({ jobId: tags.jobId, stage: tags.stage, messageId: tags.messageId });
    return Sentry.captureException(err);
  });
}

/** Sends what is buffered; false when the timeout ran out first. Safe to call when Sentry is off. */
export function flushSentry(timeoutMs: number): Promise<boolean> {
  return Sentry.flush(timeoutMs);
}

/**
 * Queue spans for Sentry's Queues view and one trace per job across stages: the publisher puts
 * `sentry-trace` and `baggage` into the message attributes, the consumer continues from them.
 */
export function createSentryInstrumentation(): QueueInstrumentation {
  return {
    publish: (info, attributes, send) =>
      // The Queues view counts a `queue.publish` span only inside a parent; outside a job (a CLI submit) make one.
      Sentry.getActiveSpan()
        ? publishSpan(info, attributes, send)
        : Sentry.startSpan({ name: `send to ${queueName(info.queueUrl)}`, op: 'queue.submit' }, () => publishSpan(info, attributes, send)),
    process: (info, handle) =>
      // A fresh isolation scope per message, so tags and breadcrumbs of concurrent jobs do not mix.
      Sentry.withIsolationScope(() =>
        Sentry.continueTrace(
          { sentryTrace: stringAttribute(info.attributes, 'sentry-trace'), baggage: stringAttribute(info.attributes, 'baggage') },
          () =>
            Sentry.startSpan({ name: `process ${queueName(info.queueUrl)}`, op: 'queue.task', forceTransaction: true }, () =>
              Sentry.startSpan(
                { name: `process ${queueName(info.queueUrl)}`, op: 'queue.process', attributes: processAttributes(info) },
                () => handle(),
              ),
            ),
        ),
      ),
  };
}

function publishSpan(info: PublishInfo, attributes: Record<string, MessageAttributeValue>, send: () => Promise<string>): Promise<string> {
  return Sentry.startSpan(
    {
      name: `publish ${queueName(info.queueUrl)}`,
      op: 'queue.publish',
      attributes: {
        'messaging.system': 'aws_sqs',
        'messaging.destination.name': queueName(info.queueUrl),
        'messaging.message.body.size': info.bodySize,
      },
    },
    async (span) => {
      injectTraceAttributes(attributes, Sentry.getTraceData({ span }));
      const messageId = await send();
      if (messageId) span.setAttribute('messaging.message.id', messageId);
      return messageId;
    },
  );
}

/**
 * Adds the propagation headers as String attributes, only when both fit under SQS's limit: a message
 * that loses its trace is better than a send that fails.
 */
function injectTraceAttributes(attributes: Record<string, MessageAttributeValue>, trace: TraceData): void {
  const added = TRACE_ATTRIBUTES.filter((name) => trace[name] && !(name in attributes)).length;
  if (Object.keys(attributes).length + added > SQS_MAX_MESSAGE_ATTRIBUTES) return;
  for (const name of TRACE_ATTRIBUTES) {
    const value = trace[name];
    if (value) attributes[name] = { DataType: 'String', StringValue: value };
  }
}

function processAttributes(info: ProcessInfo): Record<string, string | number> {
  return {
    'messaging.system': 'aws_sqs',
    'messaging.message.id': info.messageId,
    'messaging.destination.name': queueName(info.queueUrl),
    // SQS counts receives; Sentry counts retries, so the first delivery is 0.
    'messaging.message.retry.count': Math.max(0, info.receiveCount - 1),
    'messaging.message.receive.latency': info.receiveLatencyMs,
    'messaging.message.body.size': info.bodySize,
  };
}

function stringAttribute(attributes: Record<string, MessageAttributeValue>, name: string): string | undefined {
  const value = attributes[name];
  return value?.DataType === 'String' ? value.StringValue : undefined;
}

/** The queue's name is the last path segment of its URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`). */
export function queueName(queueUrl: string): string {
  return queueUrl.replace(/\/+$/, '').split('/').pop() || queueUrl;
}

