import type { Task, TaskContext, TaskResult } from '../../pipeline/task.js';
import type { SchemaLimits } from './schema/schema-limits.js';
import { csvOptionsOf } from './options.js';
import { loadSchema } from './schema/schema-source.js';
import { readCsvHead, sniffCsv } from './read/sniff.js';

/**
 * Ingestion: refuses a CSV that cannot be read (binary, unsupported encoding, empty, header only,
 * unusable header), or whose schema is missing, malformed or too large, before it costs a validation
 * run. Writes nothing; validation sniffs and loads the schema again.
 */
export class CsvInspectTask implements Task {
  readonly name = 'csv-inspect';

  constructor(private readonly schemaLimits: SchemaLimits) {}

  async run(ctx: TaskContext): Promise<TaskResult> {
    const format = sniffCsv(await readCsvHead(ctx.store, ctx.job.input, ctx.signal), csvOptionsOf(ctx.job));
    const schema = await loadSchema(ctx.job, ctx.store, ctx.signal, this.schemaLimits);
    ctx.logger.info({ gzip: format.gzip, encoding: format.encoding, delimiter: format.delimiter, columns: format.header.length, schema: schema.source }, 'CSV inspected');
    return { outputs: {} };
  }
}
