import { z } from 'zod';

/** The stages, in pipeline order. */
export const stageNames = ['ingestion', 'validation', 'analysis'] as const;
export const StageName = z.enum(stageNames);
export type StageName = z.infer<typeof StageName>;

export const JobKind = z.enum(['audio', 'csv']);
export type JobKind = z.infer<typeof JobKind>;

export const JobId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'jobId must be 1-64 of [A-Za-z0-9_-]');

export const renditionNames = ['mp3-192k', 'mp3-128k', 'aac-128k', 'opus-96k', 'hls-aac-128k'] as const;
export const RenditionName = z.enum(renditionNames);
export type RenditionName = z.infer<typeof RenditionName>;
export const defaultRenditions: RenditionName[] = ['mp3-192k', 'aac-128k'];

/**
 * Unknown properties pass through, so they must stay writable: JSON.stringify (the job sent on, validation.json)
 * and structured clone (to a CSV thread) recurse, and a few thousand levels overflow the stack, a crash
 * the job would be retried for. A real schema nests about five levels.
 */
const maxSchemaNesting = 32;
function nestsAtMost(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return true;
  return levels > 0 && Object.values(value).every((v) => nestsAtMost(v, levels - 1));
}

/** Frictionless Table Schema, the subset the contract names. Unknown properties pass through untouched. */
export const TableSchemaField = z.looseObject({
  name: z.string().min(1),
  type: z.enum(['string', 'integer', 'number', 'boolean', 'date', 'datetime']).default('string'),
  format: z.string().optional(),
  constraints: z
    .looseObject({
      required: z.boolean().optional(),
      unique: z.boolean().optional(),
      minimum: z.union([z.number(), z.string()]).optional(),
      maximum: z.union([z.number(), z.string()]).optional(),
      pattern: z.string().optional(),
      enum: z.array(z.union([z.string(), z.number(), z.boolean()])).optional(),
    })
    .optional(),
});
export const TableSchema = z
  .looseObject({
    fields: z.array(TableSchemaField).min(1),
    missingValues: z.array(z.string()).optional(),
  })
  .refine((schema) => nestsAtMost(schema, maxSchemaNesting), `a Table Schema nests at most ${maxSchemaNesting} levels deep`);
export type TableSchema = z.infer<typeof TableSchema>;

export const CsvOptions = z.strictObject({
  schema: TableSchema.optional(),
  schemaKey: z.string().min(1).optional(),
  maxErrorRate: z.number().min(0).max(1).default(0.05),
});
export type CsvOptions = z.infer<typeof CsvOptions>;

export const AudioOptions = z.strictObject({
  renditions: z.array(RenditionName).min(1).default(defaultRenditions),
});
export type AudioOptions = z.infer<typeof AudioOptions>;

export const ObjectRef = z.strictObject({ bucket: z.string().min(1), key: z.string().min(1) });
export type ObjectRef = z.infer<typeof ObjectRef>;

/** Contract 3(a): a job request on the ingestion queue. */
export const JobRequest = z.strictObject({
  jobId: JobId.optional(),
  input: z.strictObject({ bucket: z.string().min(1).optional(), key: z.string().min(1) }),
  kind: JobKind.optional(),
  csv: CsvOptions.optional(),
  audio: AudioOptions.optional(),
});
export type JobRequest = z.infer<typeof JobRequest>;

/** Contract 3(b): an S3 event notification (only the fields we use; S3 sends many more). */
export const S3EventRecord = z.looseObject({
  eventName: z.string(),
  // S3 names no object with an empty bucket or key; such a record would become a job no status or event can name.
  s3: z.looseObject({
    bucket: z.looseObject({ name: z.string().min(1) }),
    object: z.looseObject({ key: z.string().min(1), sequencer: z.string().optional(), size: z.number().optional() }),
  }),
});
export const S3EventNotification = z.looseObject({ Records: z.array(S3EventRecord) });
export const S3TestEvent = z.looseObject({ Event: z.literal('s3:TestEvent') });
/** SNS wraps the S3 event as a JSON string in `Message`. */
export const SnsEnvelope = z.looseObject({ Type: z.literal('Notification'), Message: z.string() });

/**
 * What travels between stages (validation and analysis queues): the resolved job.
 * Every stage gets everything it needs, so a stage never has to read another stage's message.
 */
export const JobMessage = z.strictObject({
  jobId: JobId,
  kind: JobKind,
  input: ObjectRef,
  csv: CsvOptions.optional(),
  audio: AudioOptions.optional(),
  /** Outputs written by earlier stages, by name: later stages may read them. */
  outputs: z.record(z.string(), z.string()).default({}),
});
export type JobMessage = z.infer<typeof JobMessage>;

export const JobEvent = z.strictObject({
  type: z.enum(['job.succeeded', 'job.failed']),
  jobId: JobId,
  kind: JobKind.optional(),
  input: ObjectRef,
  outputs: z.record(z.string(), z.string()),
  error: z.strictObject({ code: z.string(), message: z.string(), stage: StageName }).optional(),
  at: z.string(),
});
export type JobEvent = z.infer<typeof JobEvent>;

export function nextStage(stage: StageName): StageName | undefined {
  return stageNames[stageNames.indexOf(stage) + 1];
}
