import { BadInputError } from '../../../contract/errors.js';
import { csvOptionsOf, TableSchema } from '../options.js';
import { type JobMessage } from '../../../contract/job.js';
import type { ObjectStore } from '../../../storage/object-store.js';
import { checkSchema, checkSchemaBytes, describeSchemaIssue, type SchemaLimits } from './schema-limits.js';

export interface SchemaChoice {
  schema: TableSchema | undefined;
  source: 'inline' | 's3' | 'inferred';
  key?: string;
}

/**
 * The job's Table Schema: inline, or read by `schemaKey` from the job's input bucket (a schema travels
 * with the data it describes), or none, and then validation infers types. Either is held to `limits`
 * (CSV_SCHEMA_TOO_LARGE) and compiled once here, so a bad one fails before the file is read. Errors
 * name the key, sizes and places in the schema, never the object's text: a key may name any object.
 */
export async function loadSchema(job: JobMessage, store: ObjectStore, signal: AbortSignal, limits: SchemaLimits): Promise<SchemaChoice> {
  const options = csvOptionsOf(job);
  const inline = options.schema;
  if (inline) {
    checkSchemaBytes(Buffer.byteLength(JSON.stringify(inline)), limits);
    checkSchema(inline, limits);
    return { schema: inline, source: 'inline' };
  }
  const key = options.schemaKey;
  if (!key) return { schema: undefined, source: 'inferred' };
  const ref = { bucket: job.input.bucket, key };
  store.inputScope.check(ref, 'csv.schemaKey');
  let bytes: Buffer;
  try {
    // A ranged read: one byte past the limit tells an over-large object without reading the rest of it.
    bytes = await store.readHead(ref, limits.maxBytes + 1, signal);
  } catch (err) {
    if (err instanceof BadInputError && err.code === 'INPUT_NOT_FOUND') {
      throw new BadInputError('CSV_SCHEMA_NOT_FOUND', `The schema s3://${ref.bucket}/${key} named by csv.schemaKey does not exist. Upload it there, or send the schema inline as csv.schema.`, { cause: err });
    }
    throw err;
  }
  checkSchemaBytes(bytes.length, limits);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    // JSON.parse's message quotes the text around the error: not repeated, nor kept as a cause.
    throw new BadInputError('CSV_SCHEMA_INVALID', `The schema s3://${ref.bucket}/${key} (${bytes.length} bytes) is not valid JSON. Fix the file.`);
  }
  const parsed = TableSchema.safeParse(json);
  if (!parsed.success) {
    throw new BadInputError('CSV_SCHEMA_INVALID', `The schema s3://${ref.bucket}/${key} is not a Table Schema: ${describeSchemaIssue(parsed.error.issues[0])}. Fix the file.`);
  }
  checkSchema(parsed.data, limits);
  return { schema: parsed.data, source: 's3', key };
}
