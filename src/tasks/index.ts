import type { Config } from '../config/env.js';
import { TrackAnalysisTask } from './audio/analysis-task.js';
import { AudioProbeTask } from './audio/probe-task.js';
import { createAudioToolkit } from './audio/toolkit.js';
import { TranscodeTask } from './audio/transcode-task.js';
import { WaveformTask } from './audio/waveform-task.js';
import { CsvAnalysisTask } from './csv/analysis-task.js';
import { CsvInspectTask } from './csv/inspect-task.js';
import { schemaLimitsFrom } from './csv/schema-limits.js';
import { CsvValidationTask } from './csv/validation-task.js';
import { TaskRegistry } from './registry.js';

/**
 * The tasks the worker runs. Adding a task: one file under src/tasks/<kind>/ and one line here.
 */
export function defaultTaskRegistry(config: Config): TaskRegistry {
  const audio = createAudioToolkit(config);
  return new TaskRegistry()
    .register('ingestion', 'csv', new CsvInspectTask(schemaLimitsFrom(config)))
    .register('validation', 'csv', new CsvValidationTask({ threads: config.CSV_THREADS, uniqueHeapMb: config.CSV_UNIQUE_HEAP_MB, schemaLimits: schemaLimitsFrom(config) }))
    .register('analysis', 'csv', new CsvAnalysisTask())
    .register('validation', 'audio', new AudioProbeTask(audio))
    .register('analysis', 'audio', new TranscodeTask(audio))
    .register('analysis', 'audio', new WaveformTask(audio))
    .register('analysis', 'audio', new TrackAnalysisTask(audio));
}
