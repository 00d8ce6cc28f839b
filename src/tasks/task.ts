import type { Logger } from 'pino';
import type { JobKind, JobMessage, StageName } from '../pipeline/messages.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface TaskContext {
  /** The resolved job: id, kind, input reference, per-kind options, outputs of earlier stages. */
  readonly job: JobMessage;
  readonly stage: StageName;
  readonly store: ObjectStore;
  readonly logger: Logger;
  /** Fires on shutdown after the drain timeout, or when a sibling task of the stage failed. */
  readonly signal: AbortSignal;
  /** A private directory for this task's temporary files, removed after the stage on every path. */
  readonly tmpDir: string;
  /**
   * The input downloaded to a private local file, once per stage however many tasks ask
   * (tools such as ffmpeg get a file, never a URL). Streaming tasks use `store.getStream` instead.
   */
  inputFile(): Promise<string>;
}

export interface TaskResult {
  /** Outputs written, by name (e.g. `waveform.json`) to S3 key under `jobs/<jobId>/`. */
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
}

export interface TaskRegistration {
  readonly stage: StageName;
  readonly kind: JobKind;
  readonly task: Task;
}
