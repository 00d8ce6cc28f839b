import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { stageNames, type StageName } from '../contract/stages.js';

export interface EmulatorOptions {
  port?: number;
  bucket?: string;
  /** Queue names are `<prefix>-<stage>`, `<prefix>-<stage>-dlq` and `<prefix>-events`. */
  queuePrefix?: string;
  maxReceiveCount?: number;
  visibilityTimeoutSeconds?: number;
  /** Stages whose queue gets no RedrivePolicy (to test the refusal to run without one). */
  withoutRedrive?: readonly StageName[];
}

export interface StageQueues {
  url: string;
  dlqUrl: string;
}

export interface Emulator {
  readonly server: FauxqsServer;
  readonly endpoint: string;
  readonly bucket: string;
  readonly queues: Record<StageName, StageQueues>;
  readonly eventsQueueUrl: string;
  /** The environment a worker or CLI needs to talk to this emulator. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * An in-process SQS+S3 emulator (fauxqs) with the stageline bucket, three stage queues each with a DLQ
 * wired by RedrivePolicy, and the events queue. Used by `stageline local`, the demo and the tests.
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const bucket = options.bucket ?? 'stageline';
  const prefix = options.queuePrefix ?? 'stageline';
  const server = await startFauxqs({ port: options.port ?? 0, logger: false });
  server.createBucket(bucket);
  const queues = {} as Record<StageName, StageQueues>;
  for (const stage of stageNames) {
    const dlq = server.createQueue(`${prefix}-${stage}-dlq`, { attributes: { MessageRetentionPeriod: '1209600' } });
    const queue = server.createQueue(`${prefix}-${stage}`, {
      attributes: {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 30),
        ...(options.withoutRedrive?.includes(stage)
          ? {}
          : { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: String(options.maxReceiveCount ?? 5) }) }),
      },
    });
    queues[stage] = { url: queue.queueUrl, dlqUrl: dlq.queueUrl };
  }
  const events = server.createQueue(`${prefix}-events`);
  // fauxqs reports 127.0.0.1; queue URLs name sqs.<region>.localhost, which clients must not resolve:
  // every client is given this endpoint explicitly.
  const endpoint = server.address;
  const env: Record<string, string> = {
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    S3_BUCKET: bucket,
    SQS_INGESTION_QUEUE_URL: queues.ingestion.url,
    SQS_VALIDATION_QUEUE_URL: queues.validation.url,
    SQS_ANALYSIS_QUEUE_URL: queues.analysis.url,
    SQS_EVENTS_QUEUE_URL: events.queueUrl,
  };
  return { server, endpoint, bucket, queues, eventsQueueUrl: events.queueUrl, env, stop: () => server.stop() };
}
