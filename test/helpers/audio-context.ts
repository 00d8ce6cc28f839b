import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { loadConfig } from '../../src/contract/env.js';
import type { Emulator } from '../../src/cli/emulator.js';
import { JobMessage } from '../../src/tasks/index.js';
import { type RenditionName } from '../../src/tasks/audio/options.js';
import { type StageName } from '../../src/contract/stages.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { createAudioToolkit, type AudioConfig, type AudioToolkit } from '../../src/tasks/audio/ffmpeg/toolkit.js';
import type { Task, TaskContext } from '../../src/pipeline/task.js';
import { startStack } from './pipeline.js';

/** The audio toolkit as the worker makes it from the environment's defaults (EnvSchema), with any of them overridden. */
export function audioKit(overrides: Partial<AudioConfig> = {}): AudioToolkit {
  return createAudioToolkit({ ...loadConfig({}), ...overrides });
}

/** fauxqs over real HTTP with an ObjectStore on its bucket. */
export interface AudioStack {
  readonly emulator: Emulator;
  readonly store: ObjectStore;
  /** Uploads a local file (streamed, multipart when large) or bytes. */
  put(key: string, body: string | Buffer, opts?: { fromFile?: boolean }): Promise<void>;
  bytes(key: string): Promise<Buffer>;
  /** Every key under the job's prefix. */
  keys(jobId: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startAudioStack(): Promise<AudioStack> {
  const { emulator, store, clients: { s3 }, stop } = await startStack();
  return {
    emulator,
    store,
    put: async (key, body, opts = {}) => {
      const bytes = opts.fromFile ? await readFile(body) : Buffer.from(body);
      await store.upload(key, bytes.length > 5 * 1024 * 1024 ? Readable.from([bytes]) : bytes, 'application/octet-stream');
    },
    bytes: async (key) => {
      const res = await s3.send(new GetObjectCommand({ Bucket: emulator.bucket, Key: key }));
      return Buffer.from((await res.Body?.transformToByteArray()) ?? []);
    },
    keys: async (jobId) => {
      const res = await s3.send(new ListObjectsV2Command({ Bucket: emulator.bucket, Prefix: `jobs/${jobId}/` }));
      return (res.Contents ?? []).map((o) => o.Key ?? '').sort();
    },
    stop,
  };
}

let jobs = 0;

/** An audio job for an uploaded key; the id is unique per call so tests never share outputs. */
export function audioJob(stack: AudioStack, key: string, renditions?: RenditionName[]): JobMessage {
  jobs += 1;
  return JobMessage.parse({
    jobId: `audio-${process.pid}-${jobs}`,
    kind: 'audio',
    input: { bucket: stack.emulator.bucket, key },
    audio: renditions ? { renditions } : {},
  });
}

export interface SettledTask {
  readonly outputs?: Record<string, string>;
  readonly error?: unknown;
  /** What was left in the task's temp dir when it returned or threw (should be nothing). */
  readonly leftovers: string[];
  /** Whether the task asked for the input file (so it was downloaded). */
  readonly downloaded: boolean;
}

/**
 * Runs a task as the stage runner does: a silent logger, a private temp dir, an abort signal, and an
 * inputFile() that downloads the input once. Never rejects: failing runs are checked as closely as good ones.
 */
export async function settleAudioTask(stack: AudioStack, task: Task, job: JobMessage, stage: StageName, signal?: AbortSignal): Promise<SettledTask> {
  const dir = await mkdtemp(join(tmpdir(), 'audio-test-'));
  const taskDir = join(dir, 'task');
  await mkdir(taskDir);
  let input: Promise<string> | undefined;
  const ctx: TaskContext = {
    job,
    stage,
    store: stack.store,
    logger: pino({ level: 'silent' }),
    signal: signal ?? new AbortController().signal,
    tmpDir: taskDir,
    reportProgress: () => undefined,
    inputFile: () => {
      input ??= (async () => {
        const path = join(dir, `input${extname(job.input.key).toLowerCase()}`);
        await stack.store.downloadToFile(job.input, path, signal);
        return path;
      })();
      return input;
    },
  };
  try {
    const { outputs } = await task.run(ctx);
    return { outputs, leftovers: await readdir(taskDir), downloaded: input !== undefined };
  } catch (error) {
    return { error, leftovers: await readdir(taskDir), downloaded: input !== undefined };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** As settleAudioTask, for runs that must succeed: rejects with the task's error, returns its outputs. */
export async function runAudioTask(stack: AudioStack, task: Task, job: JobMessage, stage: StageName): Promise<Record<string, string>> {
  const run = await settleAudioTask(stack, task, job, stage);
  if (run.error !== undefined) throw run.error;
  if (run.leftovers.length > 0) throw new Error(`${task.name} left ${run.leftovers.join(', ')} in its temp dir`);
  return run.outputs ?? {};
}
