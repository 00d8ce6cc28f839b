import type { Detection, KindDefinition } from '../../pipeline/task.js';
import { CsvAnalysisTask } from './analysis-task.js';
import { CsvInspectTask } from './inspect-task.js';
import { CsvOptions } from './options.js';
import { schemaLimitsFrom } from './schema/schema-limits.js';
import { CsvPool } from './threads/csv-pool.js';
import { CsvValidationTask } from './validation-task.js';

/** UTF-16 with a BOM (the CSV stage transcodes it). */
const hasUtf16Bom = (b: Buffer) => (b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff);

function looksLikeText(b: Buffer): boolean {
  if (b.length === 0) return false;
  let control = 0;
  for (const byte of b) {
    if (byte === 0) return false;
    if (byte < 9 || (byte > 13 && byte < 32)) control += 1;
  }
  return control / b.length < 0.01;
}

/** CSV when it is UTF-16 with a BOM or gzip (certain: the stage reads both), possibly when it is text. */
function detectCsv(b: Buffer): Detection {
  if (hasUtf16Bom(b)) return 'certain';
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'certain';
  return looksLikeText(b) ? 'possible' : undefined;
}

export const csvKind: KindDefinition<CsvOptions> = {
  kind: 'csv',
  options: CsvOptions,
  detect: detectCsv,
  // A schema named by key is read from the input's bucket, so it is held to the same input scope.
  reads: (options) => (options.schemaKey === undefined ? [] : [{ key: options.schemaKey, field: 'csv.schemaKey' }]),
  tasks(config) {
    const schemaLimits = schemaLimitsFrom(config);
    // One pool for both stages: validation and analysis share the process's CSV threads.
    const pool = new CsvPool({ checkers: config.CSV_THREADS, validations: config.VALIDATION_CONCURRENCY, analyses: config.ANALYSIS_CONCURRENCY, uniqueHeapMb: config.CSV_UNIQUE_HEAP_MB });
    return [
      { stage: 'ingestion', task: new CsvInspectTask(schemaLimits) },
      { stage: 'validation', task: new CsvValidationTask({ pool, schemaLimits }) },
      { stage: 'analysis', task: new CsvAnalysisTask(pool) },
    ];
  },
};
