import type { JobKind, JobMessage, KindOptions, ObjectRef } from '../contract/job.js';
import type { InputScope } from '../storage/input-scope.js';
import type { KindDefinition } from './task.js';

/** How many leading bytes detection needs. */
export const sniffBytes = 4096;

/**
 * The kind of an upload from its first bytes, asking the kinds in the order given: the first that is
 * certain, or that asks to `confirm` and finds the content its own; else the first that finds it
 * possible; undefined when none does. The stages check the content in depth.
 */
export async function detectKind(
  kinds: readonly KindDefinition[],
  head: Buffer,
  confirm: (kind: KindDefinition) => Promise<boolean>,
): Promise<JobKind | undefined> {
  let possible: JobKind | undefined;
  for (const def of kinds) {
    const verdict = def.detect(head);
    if (verdict === 'certain' || (verdict === 'confirm' && (await confirm(def)))) return def.kind;
    if (verdict === 'possible') possible ??= def.kind;
  }
  return possible;
}

export function kindDefinition(kinds: readonly KindDefinition[], kind: JobKind): KindDefinition {
  const found = kinds.find((k) => k.kind === kind);
  if (!found) throw new Error(`no plug-in defines the ${kind} kind`);
  return found;
}

/** What a job names and the worker then reads: its input and whatever its kinds' options name. */
export type JobReads = { input: ObjectRef } & Partial<Pick<JobMessage, JobKind>>;

/**
 * Checks everything `job` will read against the input scope: the input and each object its options name
 * (read from the input's bucket), so a job fails with INPUT_FORBIDDEN before any of them is requested.
 */
export function checkJobReads(scope: InputScope, kinds: readonly KindDefinition[], job: JobReads): void {
  scope.check(job.input, 'input');
  for (const def of kinds) {
    const options: KindOptions | undefined = job[def.kind];
    if (options === undefined || !def.reads) continue;
    for (const { key, field } of def.reads(def.options.parse(options))) scope.check({ bucket: job.input.bucket, key }, field);
  }
}
