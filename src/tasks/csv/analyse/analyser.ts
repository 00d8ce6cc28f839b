import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { TextDecoder } from 'node:util';
import { CanonicalCsvReader, unreadable } from '../read/canonical-reader.js';
import { CategoryColumn } from './category-column.js';
import type { FieldType } from '../schema/field-types.js';
import { NumericColumn } from './numeric-column.js';
import type { AnalysisReport, CategoricalColumnStats, NumericColumnStats } from '../reports.js';
import { isNumericType } from '../schema/schema.js';

type Column =
  | { name: string; type: NumericColumnStats['type']; stats: NumericColumn; missing: number }
  | { name: string; type: CategoricalColumnStats['type']; stats: CategoryColumn; missing: number };

/**
 * pandas-`describe` statistics of validated.csv, which validation wrote: UTF-8, comma, a header, every
 * row of the header's length, missing cells empty, numbers plain. Types come from validation.json.
 */
export async function analyseCsv(source: Readable, fields: { name: string; type: FieldType }[], tmpDir: string): Promise<AnalysisReport> {
  const spillDir = join(tmpDir, 'spill');
  mkdirSync(spillDir, { recursive: true });
  const columns: Column[] = fields.map((f, i) =>
    isNumericType(f.type)
      ? { name: f.name, type: f.type as NumericColumnStats['type'], stats: new NumericColumn(join(spillDir, `n${i}.f64`)), missing: 0 }
      : { name: f.name, type: f.type as CategoricalColumnStats['type'], stats: new CategoryColumn(spillDir, `c${i}`), missing: 0 },
  );
  let rows = -1; // the header is the first record
  const reader = new CanonicalCsvReader((cells) => {
    rows += 1;
    if (rows === 0) return;
    if (cells.length !== columns.length) throw unreadable(`row ${rows} has ${cells.length} fields, not ${columns.length}`);
    for (let i = 0; i < columns.length; i += 1) {
      const column = columns[i]!;
      const cell = cells[i]!;
      if (cell === '') column.missing += 1;
      else if (column.stats instanceof NumericColumn) column.stats.add(Number(cell));
      else column.stats.add(cell);
    }
  });
  // Chunks may split a UTF-8 sequence; the streaming decoder carries it over, and refuses broken bytes.
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decode = (chunk?: Buffer) => {
    try {
      return decoder.decode(chunk, { stream: chunk !== undefined });
    } catch {
      throw unreadable('it is not valid UTF-8');
    }
  };
  for await (const chunk of source as AsyncIterable<Buffer>) reader.push(decode(chunk));
  reader.push(decode());
  reader.end();
  return {
    rows: Math.max(rows, 0),
    columns: columns.map((c): NumericColumnStats | CategoricalColumnStats => {
      if (c.stats instanceof NumericColumn) {
        const s = c.stats.finish();
        return { name: c.name, type: c.type as NumericColumnStats['type'], count: s.count, missing: c.missing, mean: s.mean, std: s.std, min: s.min, '25%': s.q25, '50%': s.q50, '75%': s.q75, max: s.max };
      }
      const s = c.stats.finish();
      return { name: c.name, type: c.type as CategoricalColumnStats['type'], count: s.count, missing: c.missing, unique: s.unique, top: s.top, freq: s.freq };
    }),
  };
}
