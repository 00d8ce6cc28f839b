import type { Config } from '../contract/env.js';
import * as contract from '../contract/job.js';
import { TaskRegistry } from '../pipeline/registry.js';
import type { KindDefinition } from '../pipeline/task.js';
import { audioKind } from './audio/kind.js';
import { csvKind } from './csv/kind.js';
import { videoKind } from './video/kind.js';

/**
 * The kinds this worker runs: adding one is its folder under src/tasks/<kind>/ and its line here (and its
 * name in contract/job.ts when the contract does not name it yet). The order is the order detection asks
 * them: video first (an MP4 or Matroska file is video when ffprobe finds a picture in it, else audio's);
 * among possible verdicts the first (audio's MPEG frame sync before plain text).
 */
export const kindDefinitions: readonly KindDefinition[] = [videoKind, audioKind, csvKind];

/** The message schemas with every kind's options in place: what the queues carry. */
export const { JobRequest, JobMessage, IngestionMessage } = contract.jobMessageSchemas(kindDefinitions);
export type JobRequest = contract.JobRequest;
export type JobMessage = contract.JobMessage;
export type IngestionMessage = contract.IngestionMessage;

export function defaultTaskRegistry(config: Config): TaskRegistry {
  return TaskRegistry.of(kindDefinitions, config);
}
