/**
 * The one key layout of what the worker writes (contract section 4): everything a job writes lies under
 * `jobs/<jobId>/`. Every writer and reader (the stages, the status store, the CLI, the demo) and the
 * input scope, which never reads under it, take the layout from here.
 */
export const outputsPrefix = 'jobs/';

export function jobPrefix(jobId: string): string {
  return `${outputsPrefix}${jobId}/`;
}

/** The key of the output `name` (e.g. `waveform.json`, `audio/mp3-192k.mp3`) of a job. */
export function jobKey(jobId: string, name: string): string {
  return `${jobPrefix(jobId)}${name}`;
}

export const statusKey = (jobId: string): string => jobKey(jobId, 'status.json');

export function isOutputKey(key: string): boolean {
  return key.startsWith(outputsPrefix);
}

/** stageline's own records under jobs/ (no jobId has a dot, and jobs/ is never input). */
const ownPrefix = `${outputsPrefix}.stageline/`;

/** The claim of a unique key (contract section 7), by the key's SHA-256 in hex. */
export const uniqueClaimKey = (keyHash: string): string => `${ownPrefix}unique/${keyHash}.json`;

/** A periodic schedule's record: its last tick and the job it made. */
export const scheduleStateKey = (name: string): string => `${ownPrefix}schedules/${name}.json`;

/** Where the start-up check of conditional writes writes twice: stageline's own (no jobId has a dot), never input. */
export const conditionalWriteProbeKey = `${ownPrefix}conditional-write-probe.json`;
