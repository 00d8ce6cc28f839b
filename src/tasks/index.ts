import { TaskRegistry } from './registry.js';

/**
 * The tasks the worker runs. Adding a task: one file under src/tasks/<kind>/ and one line here.
 */
export function defaultTaskRegistry(): TaskRegistry {
  return new TaskRegistry();
}
