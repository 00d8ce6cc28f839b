import { BadInputError } from '../../contract/errors.js';
import { jobKey } from '../../contract/job-keys.js';
import type { Task, TaskContext, TaskResult } from '../../pipeline/task.js';
import { ValidationReport } from './reports.js';
import type { CsvPool } from './threads/csv-pool.js';
import { analyseInThreads } from './analyse/parallel-analysis.js';

/** Analysis: pandas-`describe` statistics of validated.csv, typed by validation.json, into analysis.json. */
export class CsvAnalysisTask implements Task {
  readonly name = 'csv-analysis';

  constructor(private readonly pool: CsvPool) {}

  close(): Promise<void> {
    return this.pool.close();
  }

  async run(ctx: TaskContext): Promise<TaskResult> {
    const { job, store, signal } = ctx;
    const reportKey = job.outputs['validation.json'] ?? jobKey(job.jobId, 'validation.json');
    const validatedKey = job.outputs['validated.csv'] ?? jobKey(job.jobId, 'validated.csv');
    const validation = await store.getJson(reportKey, ValidationReport, signal);
    if (!validation) {
      throw new BadInputError('CSV_NOT_VALIDATED', `${reportKey} is missing, so there is nothing to analyse. Run the job again from the start.`);
    }
    const input = await store.getStream({ bucket: store.bucket, key: validatedKey }, signal);
    const columns = validation.schema.fields.map((f) => ({ name: f.name, type: f.type }));
    const analysis = await analyseInThreads(this.pool, columns, input, ctx.tmpDir, signal);
    const key = await store.putJson(jobKey(job.jobId, 'analysis.json'), analysis, signal);
    return { outputs: { 'analysis.json': key } };
  }
}
