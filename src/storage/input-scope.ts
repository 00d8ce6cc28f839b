import { envDefaults, requireBucket, type Config } from '../contract/env.js';
import { BadInputError } from '../contract/errors.js';
import type { ObjectRef } from '../contract/job.js';
import { isOutputKey, outputsPrefix } from '../contract/job-keys.js';

/**
 * Which objects a job may read (contract section 3): buckets of INPUT_BUCKETS, keys under
 * INPUT_PREFIXES, never under the outputs (`jobs/`). Every reader of an object a job names (ingestion, each
 * stage, the CSV schema reader) asks this one class first; anything else fails the job with INPUT_FORBIDDEN before
 * a single request for that object is made.
 *
 * S3 keys are literal: S3 resolves no `..`, decodes no `%2e`, folds no Unicode. But an emulator, a proxy
 * or a tool downstream may, and then a key that looks like it lies under `uploads/` names another one.
 * So a key is judged in the form those layers could turn it into, and refused unless that form is the
 * key itself: no `.`/`..`/empty segment, no backslash, no URL escape, no control character, nothing that
 * Unicode compatibility folding (NFKC: fullwidth `．`, `／`, `％`, …) changes. Refusing beats repairing:
 * a repaired key would be a different object from the one S3 holds under the name sent.
 */
export class InputScope {
  constructor(
    readonly buckets: readonly string[],
    readonly prefixes: readonly string[],
  ) {}

  /** The configured scope; INPUT_BUCKETS unset means S3_BUCKET alone. */
  static fromConfig(config: Config): InputScope {
    return new InputScope(config.INPUT_BUCKETS ?? [requireBucket(config)], config.INPUT_PREFIXES);
  }

  /** The scope of a store built without a configuration (CLI, demo, tests): its own bucket, the default INPUT_PREFIXES. */
  static forBucket(bucket: string): InputScope {
    return new InputScope([bucket], envDefaults.INPUT_PREFIXES);
  }

  /** Why `ref` must not be read, or undefined when it may. */
  refusal(ref: ObjectRef): string | undefined {
    if (!this.buckets.includes(ref.bucket)) return `the bucket is not one of INPUT_BUCKETS (${this.buckets.join(', ')})`;
    const problem = keyProblem(ref.key);
    if (problem) return `the key ${problem}`;
    if (isOutputKey(ref.key)) return `${outputsPrefix} holds the worker's own outputs and is never input`;
    if (!this.prefixes.some((p) => ref.key.startsWith(p))) return `the key is not under INPUT_PREFIXES (${this.prefixes.join(', ')})`;
    return undefined;
  }

  /** Throws INPUT_FORBIDDEN unless `ref` may be read; `field` is what the job request called it. */
  check(ref: ObjectRef, field: string): void {
    const why = this.refusal(ref);
    if (why) {
      throw new BadInputError(
        'INPUT_FORBIDDEN',
        `${field} s3://${ref.bucket}/${printable(ref.key)} may not be read: ${why}. Upload it under one of ${this.prefixes.join(', ')} in ${this.buckets.join(', ')} and send that key as S3 stores it.`,
      );
    }
  }
}

/** Characters no layer should have to interpret in a key: C0 controls and DEL. */
const controlChar = /[\u0000-\u001f\u007f]/;
const urlEscape = /%[0-9A-Fa-f]{2}/;
/** Marks and invisible format characters (zero-width space, joiners, bidi controls): `.\u200b.` reads as `..`. */
const invisible = /[\p{M}\p{Cf}]/gu;

/**
 * Why `key` is not a plain S3 key that means the same to every layer, or undefined when it is. Canonical
 * Unicode forms (NFC, NFD: an accented name from macOS) mean the same and pass; compatibility look-alikes do not.
 */
export function keyProblem(key: string): string | undefined {
  if (controlChar.test(key)) return 'contains a control character';
  if (key.includes('\\')) return 'contains a backslash';
  if (urlEscape.test(key)) return 'contains a URL escape (%xx): send the key decoded, as S3 stores it';
  if (key.normalize('NFKC') !== key.normalize('NFC')) return 'contains Unicode compatibility characters (such as fullwidth ． or ／) that other systems read as different ones';
  for (const segment of key.split('/')) {
    const skeleton = segment.normalize('NFKD').replace(invisible, '');
    if (skeleton === '') return 'has an empty segment (a leading or trailing slash, or //)';
    if (skeleton === '.' || skeleton === '..') return 'has a . or .. segment';
  }
  return undefined;
}

/** A key as it may be shown to a person: odd characters escaped, a long one cut. */
function printable(key: string): string {
  return JSON.stringify(key.length > 200 ? `${key.slice(0, 200)}…` : key).slice(1, -1);
}
