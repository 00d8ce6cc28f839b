import { PassThrough, Readable } from 'node:stream';
import { AbortedError, BadInputError } from '../../contract/errors.js';
import { jobKey } from '../../contract/job-keys.js';
import type { Task, TaskContext, TaskResult } from '../../pipeline/task.js';
import { csvOptionsOf } from './options.js';
import type { ValidationReport } from './reports.js';
import { loadSchema } from './schema/schema-source.js';
import { readCsvHead, sniffCsv } from './read/sniff.js';
import { validateInThreads } from './validate/parallel-validation.js';
import type { SchemaLimits } from './schema/schema-limits.js';
import type { CsvPool } from './threads/csv-pool.js';

export interface CsvValidationOptions {
  pool: CsvPool;
  schemaLimits: SchemaLimits;
}

/**
 * Validation: streams the input from S3 through parsing threads (validate/parallel-validation.ts) into validated.csv and rejects.jsonl
 * (multipart uploads, concurrently), then writes validation.json. Over `maxErrorRate` the job fails with
 * CSV_ERROR_RATE_EXCEEDED, after all three outputs are written so a person can see why.
 */
export class CsvValidationTask implements Task {
  readonly name = 'csv-validation';

  constructor(private readonly options: CsvValidationOptions) {}

  close(): Promise<void> {
    return this.options.pool.close();
  }

  async run(ctx: TaskContext): Promise<TaskResult> {
    const { job, store, signal } = ctx;
    const head = await readCsvHead(store, job.input, signal);
    const format = sniffCsv(head, csvOptionsOf(job));
    const schema = await loadSchema(job, store, signal, this.options.schemaLimits);
    const keys = { validated: jobKey(job.jobId, 'validated.csv'), rejects: jobKey(job.jobId, 'rejects.jsonl'), report: jobKey(job.jobId, 'validation.json') };
    const validated = new PassThrough({ highWaterMark: 1 << 20 });
    const rejects = new PassThrough({ highWaterMark: 1 << 20 });
    const uploads = Promise.all([
      store.upload(keys.validated, validated, 'text/csv; charset=utf-8', signal),
      store.upload(keys.rejects, rejects, 'application/x-ndjson', signal),
    ]);
    // Awaited below; an upload may fail (abort) while the thread still runs, which is not unhandled.
    uploads.catch(() => undefined);
    let counts;
    try {
      const input = head.whole ? Readable.from([head.whole]) : await store.getStream(job.input, signal);
      counts = await validateInThreads(format, schema.schema, input, { 'validated.csv': validated, 'rejects.jsonl': rejects }, signal, this.options.pool);
    } catch (err) {
      validated.destroy();
      rejects.destroy();
      await uploads.catch(() => undefined);
      // On abort the uploads, the S3 read and the thread all fail at once: report the abort, not whichever came first.
      throw signal.aborted ? new AbortedError('CSV validation aborted', { cause: err }) : err;
    }
    validated.end();
    rejects.end();
    await uploads;

    const { maxErrorRate } = csvOptionsOf(job);
    const errorRate = counts.rowsRejected / counts.rowsRead;
    const report: ValidationReport = {
      input: job.input,
      format: { gzip: format.gzip, encoding: format.encoding, delimiter: format.delimiter },
      ...counts,
      errorRate,
      maxErrorRate,
      schemaSource: schema.source,
      ...(schema.key ? { schemaKey: schema.key } : {}),
    };
    await store.putJson(keys.report, report, signal);
    ctx.logger.info({ rowsRead: counts.rowsRead, rowsRejected: counts.rowsRejected, errorRate }, 'CSV validated');
    if (errorRate > maxErrorRate) {
      throw new BadInputError(
        'CSV_ERROR_RATE_EXCEEDED',
        `${counts.rowsRejected} of ${counts.rowsRead} rows (${(errorRate * 100).toFixed(2)}%) were rejected, more than the allowed ${(maxErrorRate * 100).toFixed(2)}%. See ${keys.rejects} for each row and reason, fix the file or the schema, or raise csv.maxErrorRate.`,
      );
    }
    return { outputs: { 'validated.csv': keys.validated, 'rejects.jsonl': keys.rejects, 'validation.json': keys.report } };
  }
}
