import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import type { Emulator } from '../../src/cli/emulator.js';
import { loadConfig } from '../../src/contract/env.js';
import { JobMessage } from '../../src/tasks/index.js';
import { type CsvOptions } from '../../src/tasks/csv/options.js';
import type { StageName } from '../../src/contract/stages.js';
import { jobKey } from '../../src/contract/job-keys.js';
import { type ObjectStore } from '../../src/storage/object-store.js';
import { schemaLimitsFrom } from '../../src/tasks/csv/schema/schema-limits.js';
import type { CsvValidationOptions } from '../../src/tasks/csv/validation-task.js';
import { CsvPool } from '../../src/tasks/csv/threads/csv-pool.js';
import type { Task, TaskContext } from '../../src/pipeline/task.js';
import { startStack } from './pipeline.js';

/** fauxqs over real HTTP and an ObjectStore on its bucket. */
export interface CsvStack {
  emulator: Emulator;
  store: ObjectStore;
  put(key: string, body: Buffer | string): Promise<void>;
  text(key: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startCsvStack(): Promise<CsvStack> {
  const { emulator, store, clients: { s3 }, stop } = await startStack();
  return {
    emulator,
    store,
    // Large bodies go multipart, as real uploads of big files do (fauxqs refuses very large single PUTs).
    put: async (key, body) => {
      if (body.length > 5 * 1024 * 1024) await store.upload(key, Readable.from([Buffer.from(body)]), 'application/octet-stream');
      else await s3.send(new PutObjectCommand({ Bucket: emulator.bucket, Key: key, Body: body }));
    },
    text: async (key) => (await (await s3.send(new GetObjectCommand({ Bucket: emulator.bucket, Key: key }))).Body?.transformToString('utf8')) ?? '',
    stop,
  };
}

const defaults = loadConfig({});
/** The CSV tasks' options as the worker's defaults (EnvSchema) give them, with two checkers (idle threads do not hold the test process open). */
export const csvOptions: CsvValidationOptions = {
  pool: new CsvPool({ checkers: 2, validations: 2, analyses: 2, uniqueHeapMb: defaults.CSV_UNIQUE_HEAP_MB }),
  schemaLimits: schemaLimitsFrom(defaults),
};

let jobs = 0;

/** A job for an uploaded CSV; its id is unique per call so tests never share outputs. */
export function csvJob(stack: CsvStack, key: string, csv: Partial<CsvOptions> = {}): JobMessage {
  jobs += 1;
  return JobMessage.parse({ jobId: `csv-${process.pid}-${jobs}`, kind: 'csv', input: { bucket: stack.emulator.bucket, key }, csv });
}

/** Runs a task the way the stage runner does: a silent logger, a private temp dir, an abort signal. */
export async function runTask(stack: CsvStack, task: Task, job: JobMessage, stage: StageName, signal = new AbortController().signal): Promise<Record<string, string>> {
  const tmpDir = await mkdtemp(join(tmpdir(), 'csv-test-'));
  const ctx: TaskContext = {
    job,
    stage,
    store: stack.store,
    logger: pino({ level: 'silent' }),
    signal,
    tmpDir,
    inputFile: () => Promise.reject(new Error('CSV tasks stream their input')),
    reportProgress: () => undefined,
  };
  try {
    return (await task.run(ctx)).outputs;
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

export const outputKey = (job: JobMessage, name: string) => jobKey(job.jobId, name);
