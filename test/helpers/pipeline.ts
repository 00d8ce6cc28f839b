import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { pino, type Logger } from 'pino';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import { loadConfig, type Config } from '../../src/contract/env.js';
import { startWorker, type Worker, type WorkerOptions } from '../../src/daemon/worker.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/cli/emulator.js';
import { JobStatus } from '../../src/contract/status-document.js';
import { statusKey } from '../../src/contract/job-keys.js';
import { ObjectStore } from '../../src/storage/object-store.js';

export const silentLogger: Logger = pino({ level: 'silent' });

export interface TestStack {
  emulator: Emulator;
  clients: AwsClients;
  config: Config;
  store: ObjectStore;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** A real fauxqs over HTTP with the stageline bucket and queues, and clients pointed at it. */
export async function startStack(options: EmulatorOptions = {}, env: Record<string, string> = {}): Promise<TestStack> {
  const emulator = await startEmulator(options);
  const fullEnv = { ...emulator.env, HTTP_PORT: '0', LOG_LEVEL: 'silent', ...env };
  for (const [k, v] of Object.entries(emulator.env)) if (k.startsWith('AWS_')) process.env[k] = v;
  const config = loadConfig(fullEnv);
  const clients = createAwsClients(config);
  return {
    emulator,
    clients,
    config,
    env: fullEnv,
    store: new ObjectStore(clients.s3, emulator.bucket),
    stop: () => emulator.stop(),
  };
}

export function startTestWorker(stack: TestStack, options: Partial<WorkerOptions> = {}): Promise<Worker> {
  return startWorker({ config: stack.config, clients: stack.clients, logger: silentLogger, waitTimeSeconds: 1, ...options });
}

export async function putObject(s3: S3Client, bucket: string, key: string, body: Buffer | string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

export async function sendRaw(sqs: SQSClient, queueUrl: string, body: string): Promise<void> {
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
}

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const res = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return {
    visible: Number(res.Attributes?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}

export async function receiveAll(sqs: SQSClient, queueUrl: string, waitTimeSeconds = 1): Promise<{ body: string; attributes: Record<string, string> }[]> {
  const res = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitTimeSeconds, MessageAttributeNames: ['All'] }),
  );
  return (res.Messages ?? []).map((m) => ({
    body: m.Body ?? '',
    attributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? ''])),
  }));
}

/** Polls until `check` returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function jobStatus(store: ObjectStore, jobId: string): Promise<JobStatus | undefined> {
  return store.getJson(statusKey(jobId), JobStatus);
}

/** Waits for the job to reach a final state. */
export function finalStatus(store: ObjectStore, jobId: string, timeoutMs = 30_000): Promise<JobStatus> {
  return eventually(
    async () => {
      const s = await jobStatus(store, jobId);
      return s && (s.state === 'succeeded' || s.state === 'failed') ? s : undefined;
    },
    `job ${jobId} to finish`,
    timeoutMs,
  );
}
