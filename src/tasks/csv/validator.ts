import type { Readable } from 'node:stream';
import { BadInputError } from '../../errors.js';
import type { TableSchema } from '../../pipeline/messages.js';
import { csvLine } from './csv-text.js';
import { decodingStages } from './decode.js';
import { TypeInference } from './field-types.js';
import type { RejectLine } from './reports.js';
import { compileSchema, defaultMissingValues, type CompiledSchema } from './schema.js';
import { streamRecords } from './record-stream.js';
import { checkHeader, type CsvFormat } from './sniff.js';
import type { OutputName, ValidationCounts } from './thread-protocol.js';

export type Emit = (name: OutputName, text: string) => void;

/**
 * Validates every data row and writes valid rows to validated.csv, rejected ones to rejects.jsonl.
 * A row with more or fewer fields than the header is rejected as a whole. With a schema each row goes
 * through the compiled zod tuple and comes out normalised; without one, rows are kept as they are and
 * each column's type is inferred over the whole file.
 */
export async function validateCsv(source: Readable, format: CsvFormat, schema: TableSchema | undefined, emit: Emit): Promise<ValidationCounts> {
  let header: string[] | undefined;
  let compiled: CompiledSchema | undefined;
  let inference: TypeInference[] = [];
  const counts = { rowsRead: 0, rowsValid: 0, rowsRejected: 0 };
  const missing = new Set(schema?.missingValues ?? defaultMissingValues);

  const reject = (line: Omit<RejectLine, 'row'>) => {
    counts.rowsRejected += 1;
    emit('rejects.jsonl', JSON.stringify({ row: counts.rowsRead, ...line } satisfies RejectLine) + '\n');
  };

  const onHeader = (cells: string[]) => {
    checkHeader(cells);
    header = cells;
    if (schema) compiled = compileSchema(schema, cells);
    else inference = cells.map(() => new TypeInference());
    emit('validated.csv', csvLine(cells));
  };

  await streamRecords(source, decodingStages(format), format.delimiter, {
    record(cells, canonical) {
      if (!header) return onHeader(cells);
      counts.rowsRead += 1;
      if (cells.length !== header.length) {
        return reject({ column: null, value: cells.join(format.delimiter), error: `row has ${cells.length} fields, the header has ${header.length}` });
      }
      if (compiled) {
        const result = compiled.check(cells);
        if (!Array.isArray(result)) return reject(result);
        // A row already in validated.csv's form that normalisation left alone is copied, not rewritten.
        emit('validated.csv', canonical !== undefined && unchanged(cells, result) ? canonical + '\n' : csvLine(result));
      } else {
        for (let i = 0; i < cells.length; i += 1) {
          const cell = cells[i] as string;
          if (!missing.has(cell)) inference[i]!.observe(cell);
        }
        emit('validated.csv', canonical !== undefined ? canonical + '\n' : csvLine(cells));
      }
      counts.rowsValid += 1;
    },
    skipped(message) {
      counts.rowsRead += 1;
      reject({ column: null, value: null, error: message });
    },
  });

  if (!header) throw new BadInputError('CSV_EMPTY', 'The file has no records, not even a header line. Upload a CSV with a header line and data rows.');
  if (counts.rowsRead === 0) throw new BadInputError('CSV_HEADER_ONLY', 'The file has a header line but no data rows. Add rows below the header.');
  const applied: TableSchema = compiled?.schema ?? {
    fields: header.map((name, i) => ({ name, type: inference[i]!.type })),
    missingValues: defaultMissingValues,
  };
  return { ...counts, schema: applied };
}

/** Whether every normalised cell is its raw cell (a missing one, null, is written empty as its raw '' is). */
function unchanged(cells: readonly string[], normalised: readonly (string | null)[]): boolean {
  for (let i = 0; i < cells.length; i += 1) {
    const value = normalised[i];
    if (value !== cells[i] && !(value === null && cells[i] === '')) return false;
  }
  return true;
}
