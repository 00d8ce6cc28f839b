import type { Task, TaskContext, TaskResult } from '../../src/pipeline/task.js';
import { jobKey } from '../../src/contract/job-keys.js';

/** A task that writes what it received to `jobs/<id>/<name>.json`: enough to prove a job passed through a stage. */
export class RecordingTask implements Task {
  readonly runs: { jobId: string; stage: string }[] = [];
  constructor(
    readonly name: string,
    private readonly behaviour: (ctx: TaskContext, attempt: number) => Promise<void> = async () => {},
  ) {}

  async run(ctx: TaskContext): Promise<TaskResult> {
    this.runs.push({ jobId: ctx.job.jobId, stage: ctx.stage });
    await this.behaviour(ctx, this.runs.filter((r) => r.jobId === ctx.job.jobId).length);
    const key = jobKey(ctx.job.jobId, `${this.name}.json`);
    await ctx.store.putJson(key, { stage: ctx.stage, kind: ctx.job.kind, input: ctx.job.input, earlierOutputs: ctx.job.outputs });
    return { outputs: { [`${this.name}.json`]: key } };
  }
}
