import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Config } from '../contract/env.js';
import type { JobKind, JobMessage, KindOptions, KindOptionSchema, ObjectRef } from '../contract/job.js';
import type { StageName } from '../contract/stages.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface TaskContext {
  /** The resolved job: id, kind, input reference, per-kind options, outputs of earlier stages. */
  readonly job: JobMessage;
  readonly stage: StageName;
  readonly store: ObjectStore;
  readonly logger: Logger;
  /** Fires on shutdown after the drain timeout, or when a sibling task of the stage failed. */
  readonly signal: AbortSignal;
  /** A private directory for this task's temporary files, made when first asked for, removed after the stage on every path. */
  readonly tmpDir: string;
  /**
   * The input downloaded to a private local file, once per stage however many tasks ask
   * (tools such as ffmpeg get a file, never a URL). Streaming tasks use `store.getStream` instead.
   */
  inputFile(): Promise<string>;
  /**
   * How far a long task has come (0-1): the stage's entry in status.json shows the percent and an
   * estimated finish. Call it as often as convenient; the host writes at most every few seconds.
   */
  reportProgress(fraction: number): void;
}

export interface TaskResult {
  /** Outputs written, by name (e.g. `waveform.json`), to their keys (contract/job-keys.ts). */
  readonly outputs: Record<string, string>;
}

/**
 * A unit of work in a stage for one kind of job. Tasks read from S3 and write to S3 under
 * deterministic keys, so a redelivered message repeats the same work harmlessly.
 * Throw BadInputError for input a person must fix, TransientError for what may work next time.
 */
export interface Task {
  readonly name: string;
  run(ctx: TaskContext): Promise<TaskResult>;
  /** Releases what the task keeps between jobs (threads); called once the worker has drained. */
  close?(): Promise<void>;
}

export interface TaskRegistration {
  readonly stage: StageName;
  readonly kind: JobKind;
  readonly task: Task;
}

/**
 * How sure a kind is that an upload's first bytes are its: a magic number is `certain`, plain text
 * `possible`; `confirm` when only the content can tell (an MP4 holds audio or video): the kind's
 * `confirm` then looks into it.
 */
export type Detection = 'certain' | 'confirm' | 'possible' | undefined;

/**
 * A kind of job, as its plug-in (src/tasks/<kind>/kind.ts) describes it to the host: the schema of its
 * options (carried under the kind's name in requests and stage messages), how to recognise its uploads,
 * which other objects its options make the job read, and its tasks. The host knows no kind but through this.
 */
export interface KindDefinition<O extends KindOptions = KindOptions> extends KindOptionSchema {
  readonly kind: JobKind;
  readonly options: z.ZodType<O>;
  /** Judges an upload from its first bytes (`sniffBytes` of them at most). */
  detect(head: Buffer): Detection;
  /** For a `confirm` verdict: whether the content is this kind's (e.g. ffprobe finds a video stream). */
  confirm?(input: ObjectRef, store: ObjectStore, signal: AbortSignal, config: Config): Promise<boolean>;
  /** Objects besides the input that the job will read, each with the request field that names it. */
  reads?(options: O): { key: string; field: string }[];
  /** The kind's tasks in each stage, built from the process configuration. */
  tasks(config: Config): readonly { stage: StageName; task: Task }[];
}
