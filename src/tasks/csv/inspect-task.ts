import type { Task, TaskContext, TaskResult } from '../task.js';
import { readCsvHead, sniffCsv } from './sniff.js';

/**
 * Ingestion: refuses a CSV that cannot be read (binary, unsupported encoding, empty, header only,
 * unusable header) before it costs a validation run. Writes nothing; validation sniffs again.
 */
export class CsvInspectTask implements Task {
  readonly name = 'csv-inspect';

  async run(ctx: TaskContext): Promise<TaskResult> {
    const format = sniffCsv(await readCsvHead(ctx.store, ctx.job.input, ctx.signal));
    ctx.logger.info({ gzip: format.gzip, encoding: format.encoding, delimiter: format.delimiter, columns: format.header.length }, 'CSV inspected');
    return { outputs: {} };
  }
}
