import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CanonicalRecords, fieldValue, isQuoted, unreadable } from '../read/canonical-reader.js';
import { Utf8Check } from '../read/decode.js';
import { plainDecimal } from '../schema/byte-values.js';
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
  // Per column, its numbers or its tallies: one typed slot each, so the row loop does not test classes.
  const numbers = columns.map((c) => (c.stats instanceof NumericColumn ? c.stats : undefined));
  const tallies = columns.map((c) => (c.stats instanceof CategoryColumn ? c.stats : undefined));
  const missing = new Float64Array(columns.length);
  const reader = new CanonicalRecords(({ text, count, starts, ends, hashes }) => {
    rows += 1;
    if (rows === 0) return;
    if (count !== columns.length) throw unreadable(`row ${rows} has ${count} fields, not ${columns.length}`);
    for (let i = 0; i < count; i += 1) {
      const start = starts[i]!;
      const end = ends[i]!;
      const numeric = numbers[i];
      // Empty, or (never written so, but read as such) an empty quoted value.
      if (end === start || (end === start + 2 && isQuoted(text, start))) missing[i]! += 1;
      else if (numeric) numeric.add(plainDecimal(text, start, end) ?? Number(fieldValue(text, start, end)));
      else tallies[i]!.addBytes(text, start, end, hashes[i]!);
    }
  });
  // Values are read from the bytes, most never decoded: the bytes are checked to be UTF-8 as they come.
  const utf8 = new Utf8Check();
  for await (const chunk of source as AsyncIterable<Buffer>) {
    if (!utf8.push(chunk)) throw unreadable('it is not valid UTF-8');
    reader.push(chunk);
  }
  if (!utf8.end()) throw unreadable('it is not valid UTF-8');
  reader.end();
  columns.forEach((c, i) => (c.missing = missing[i]!));
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
