import type { JobKind } from '../contract/job.js';
import type { StageName } from '../contract/stages.js';
import type { Config } from '../contract/env.js';
import type { KindDefinition, Task, TaskRegistration } from './task.js';

/** Maps stage × kind to the tasks that run there. A stage runs its tasks concurrently. */
export class TaskRegistry {
  private readonly registrations: TaskRegistration[];

  constructor(registrations: readonly TaskRegistration[] = []) {
    this.registrations = [...registrations];
  }

  /** Every task of every kind, as each kind's plug-in builds them from `config`. */
  static of(kinds: readonly KindDefinition[], config: Config): TaskRegistry {
    return new TaskRegistry(kinds.flatMap((k) => k.tasks(config).map(({ stage, task }) => ({ stage, kind: k.kind, task }))));
  }

  register(stage: StageName, kind: JobKind, task: Task): this {
    this.registrations.push({ stage, kind, task });
    return this;
  }

  /** Closes every task that keeps something between jobs (tasks may share it, so close is idempotent). */
  async close(): Promise<void> {
    await Promise.all([...new Set(this.registrations.map((r) => r.task))].map((t) => t.close?.()));
  }

  tasksFor(stage: StageName, kind: JobKind): Task[] {
    return this.registrations.filter((r) => r.stage === stage && r.kind === kind).map((r) => r.task);
  }
}
