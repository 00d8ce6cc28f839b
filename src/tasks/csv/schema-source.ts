import { BadInputError } from '../../errors.js';
import { TableSchema, type JobMessage } from '../../pipeline/messages.js';
import type { ObjectStore } from '../../storage/object-store.js';

export interface SchemaChoice {
  schema: TableSchema | undefined;
  source: 'inline' | 's3' | 'inferred';
  key?: string;
}

/** Largest schema document read from S3; a schema is a few KiB. */
const maxSchemaBytes = 1024 * 1024;

/**
 * The job's Table Schema: inline, or read by `schemaKey` from the job's input bucket (a schema travels
 * with the data it describes), or none, and then validation infers types.
 */
export async function loadSchema(job: JobMessage, store: ObjectStore, signal: AbortSignal): Promise<SchemaChoice> {
  if (job.csv?.schema) return { schema: job.csv.schema, source: 'inline' };
  const key = job.csv?.schemaKey;
  if (!key) return { schema: undefined, source: 'inferred' };
  const ref = { bucket: job.input.bucket, key };
  store.inputScope.check(ref, 'csv.schemaKey');
  let text: string;
  try {
    text = (await store.readHead(ref, maxSchemaBytes + 1, signal)).toString('utf8');
  } catch (err) {
    if (err instanceof BadInputError && err.code === 'INPUT_NOT_FOUND') {
      throw new BadInputError('CSV_SCHEMA_NOT_FOUND', `The schema s3://${ref.bucket}/${key} named by csv.schemaKey does not exist. Upload it there, or send the schema inline as csv.schema.`, { cause: err });
    }
    throw err;
  }
  if (text.length > maxSchemaBytes) throw new BadInputError('CSV_SCHEMA_INVALID', `The schema s3://${ref.bucket}/${key} is larger than 1 MiB; a Table Schema is a small JSON document.`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BadInputError('CSV_SCHEMA_INVALID', `The schema s3://${ref.bucket}/${key} is not valid JSON (${(err as Error).message}). Fix the file.`, { cause: err });
  }
  const parsed = TableSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadInputError('CSV_SCHEMA_INVALID', `The schema s3://${ref.bucket}/${key} is not a Table Schema: ${issue?.path.join('.') || '(root)'}: ${issue?.message}. Fix the file.`);
  }
  return { schema: parsed.data, source: 's3', key };
}
