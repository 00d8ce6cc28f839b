import type { Config } from '../config/env.js';
import { CsvAnalysisTask } from './csv/analysis-task.js';
import { CsvInspectTask } from './csv/inspect-task.js';
import { CsvValidationTask } from './csv/validation-task.js';
import { TaskRegistry } from './registry.js';

/**
 * The tasks the worker runs. Adding a task: one file under src/tasks/<kind>/ and one line here.
 */
export function defaultTaskRegistry(_config: Config): TaskRegistry {
  return new TaskRegistry()
    .register('ingestion', 'csv', new CsvInspectTask())
    .register('validation', 'csv', new CsvValidationTask())
    .register('analysis', 'csv', new CsvAnalysisTask());
}
