import type { Config } from '../config/env.js';
import { TaskRegistry } from './registry.js';

/**
 * The tasks the worker runs. Adding a task: one file under src/tasks/<kind>/ and one line here.
 */
export function defaultTaskRegistry(_config: Config): TaskRegistry {
  return new TaskRegistry();
}
