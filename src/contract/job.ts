import { z } from 'zod';
import { S3EventNotification, S3TestEvent, SnsEnvelope } from './s3-event.js';
import { StageName } from './stages.js';

/** The kinds of job the contract names. Each has a plug-in under src/tasks/<kind>/ that owns its options. */
export const jobKinds = ['audio', 'csv', 'video'] as const;
export const JobKind = z.enum(jobKinds);
export type JobKind = z.infer<typeof JobKind>;

export const JobId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'jobId must be 1-64 of [A-Za-z0-9_-]');

export const ObjectRef = z.strictObject({ bucket: z.string().min(1), key: z.string().min(1) });
export type ObjectRef = z.infer<typeof ObjectRef>;

/**
 * A kind's options, as the core sees them: an object under the kind's name (`"csv": {…}`). Their shape
 * is the kind plug-in's own schema (src/tasks/<kind>/options.ts), which `jobMessageSchemas` puts in place.
 */
export const KindOptions = z.record(z.string(), z.unknown());
export type KindOptions = z.infer<typeof KindOptions>;
export type KindOptionsByKind = Partial<Record<JobKind, KindOptions>>;

/** The option slots a message fills, and nothing else. */
export function kindOptionsOf(message: KindOptionsByKind): KindOptionsByKind {
  return Object.fromEntries(jobKinds.flatMap((kind) => (message[kind] === undefined ? [] : [[kind, message[kind]]])));
}

type OptionSlots = Record<JobKind, z.ZodOptional<z.ZodType<KindOptions>>>;
/** One optional slot per kind, named after it, holding that kind's options. */
const optionSlots = (schemaOf: (kind: JobKind) => z.ZodType<KindOptions>) =>
  Object.fromEntries(jobKinds.map((kind) => [kind, schemaOf(kind).optional()])) as OptionSlots;
const opaqueOptions = optionSlots(() => KindOptions);

/** `unique.for`: how long after the job succeeded a request with its key is still a duplicate. */
export const UniqueFor = z.union([z.number().int().positive(), z.literal('forever')]);
export type UniqueFor = z.infer<typeof UniqueFor>;

/** Contract section 7: a unique job. Without a key, one is derived from the input's bucket, key, ETag and the job options. */
export const UniqueRequest = z.strictObject({ key: z.string().min(1).max(512).optional(), for: UniqueFor.optional() });
export type UniqueRequest = z.infer<typeof UniqueRequest>;

/** Contract 3(a): a job request on the ingestion queue, its options not yet held to their kinds' schemas. */
export const JobRequestEnvelope = z.strictObject({
  jobId: JobId.optional(),
  input: z.strictObject({ bucket: z.string().min(1).optional(), key: z.string().min(1) }),
  kind: JobKind.optional(),
  ...opaqueOptions,
  /** Contract section 7: the job starts no earlier than this. */
  runAt: z.iso.datetime({ offset: true }).optional(),
  /** Instead of runAt: seconds from when the request is first received. */
  delaySeconds: z.number().min(0).optional(),
  unique: UniqueRequest.optional(),
  /** Run even when a unique job with the same key exists. */
  force: z.boolean().optional(),
});
export type JobRequest = z.infer<typeof JobRequestEnvelope>;

/**
 * What travels between stages (validation and analysis queues): the resolved job.
 * Every stage gets everything it needs, so a stage never has to read another stage's message.
 */
const JobMessageShape = z.strictObject({
  jobId: JobId,
  kind: JobKind,
  input: ObjectRef,
  ...opaqueOptions,
  /** Outputs written by earlier stages, by name: later stages may read them. */
  outputs: z.record(z.string(), z.string()).default({}),
});
export type JobMessage = z.infer<typeof JobMessageShape>;

export type IngestionMessage = z.infer<typeof S3TestEvent> | z.infer<typeof SnsEnvelope> | z.infer<typeof S3EventNotification> | JobRequest;

/** A kind's contribution to the message schemas: its name and the schema of its options. */
export interface KindOptionSchema {
  readonly kind: JobKind;
  readonly options: z.ZodType<KindOptions>;
}

export interface JobMessageSchemas {
  readonly JobRequest: z.ZodType<JobRequest>;
  readonly JobMessage: z.ZodType<JobMessage>;
  /** Everything the ingestion queue accepts (contract section 3). */
  readonly IngestionMessage: z.ZodType<IngestionMessage>;
}

/**
 * The message schemas with each kind's own option schema in its slot: a request whose options its kind
 * refuses matches no schema (contract section 6: dead-lettered at once, never retried).
 */
export function jobMessageSchemas(kinds: readonly KindOptionSchema[]): JobMessageSchemas {
  const options = optionSlots((kind) => kinds.find((k) => k.kind === kind)?.options ?? KindOptions);
  const JobRequest = JobRequestEnvelope.extend(options).refine((r) => r.runAt === undefined || r.delaySeconds === undefined, {
    message: 'give runAt or delaySeconds, not both',
    path: ['delaySeconds'],
  });
  return {
    JobRequest,
    JobMessage: JobMessageShape.extend(options),
    IngestionMessage: z.union([S3TestEvent, SnsEnvelope, S3EventNotification, JobRequest]),
  };
}

export const JobEvent = z.strictObject({
  // `job.deduplicated`: a unique request created no job; `duplicateOf` names the job that covers it.
  type: z.enum(['job.succeeded', 'job.failed', 'job.deduplicated']),
  jobId: JobId,
  kind: JobKind.optional(),
  input: ObjectRef,
  outputs: z.record(z.string(), z.string()),
  error: z.strictObject({ code: z.string(), message: z.string(), stage: StageName }).optional(),
  duplicateOf: JobId.optional(),
  at: z.string(),
});
export type JobEvent = z.infer<typeof JobEvent>;
