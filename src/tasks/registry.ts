import type { JobKind, StageName } from '../pipeline/messages.js';
import type { Task, TaskRegistration } from './task.js';

/** Maps stage × kind to the tasks that run there. A stage runs its tasks concurrently. */
export class TaskRegistry {
  private readonly registrations: TaskRegistration[];

  constructor(registrations: readonly TaskRegistration[] = []) {
    this.registrations = [...registrations];
  }

  register(stage: StageName, kind: JobKind, task: Task): this {
    this.registrations.push({ stage, kind, task });
    return this;
  }

  tasksFor(stage: StageName, kind: JobKind): Task[] {
    return this.registrations.filter((r) => r.stage === stage && r.kind === kind).map((r) => r.task);
  }
}
