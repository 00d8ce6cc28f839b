import { isUtf8 } from 'node:buffer';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CanonicalRecords, fieldValue, isQuoted, unreadable } from '../read/canonical-reader.js';
import { plainDecimal } from '../schema/byte-values.js';
import { CategoryColumn, categoryMemory, type CategoryPartial } from './category-column.js';
import type { FieldType } from '../schema/field-types.js';
import { NumericColumn, type NumericPartial } from './numeric-column.js';
import type { AnalysisReport, CategoricalColumnStats, NumericColumnStats } from '../reports.js';
import { isNumericType } from '../schema/schema.js';

type Column =
  | { name: string; type: NumericColumnStats['type']; stats: NumericColumn }
  | { name: string; type: CategoricalColumnStats['type']; stats: CategoryColumn };

/** One thread's share of the rows, for the thread that finishes the analysis (`AnalysisPart.report`). */
export interface AnalysisPartial {
  rows: number;
  missing: Float64Array;
  columns: (NumericPartial | CategoryPartial)[];
}

/** The buffers a partial is made of, so it moves between threads without a copy. */
export function transferablesOf(p: AnalysisPartial): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>([p.missing.buffer as ArrayBuffer]);
  for (const c of p.columns) {
    if ('values' in c) {
      if (typeof c.values !== 'string') out.add(c.values.buffer as ArrayBuffer);
    } else if (c.table) {
      for (const a of [c.table.hashes, c.table.keyStart, c.table.keyEnd, c.table.counts, c.table.firsts, c.table.arena]) out.add(a.buffer as ArrayBuffer);
    }
  }
  return [...out];
}

/**
 * pandas-`describe` statistics of validated.csv, which validation wrote: UTF-8, comma, a header, every
 * row of the header's length, missing cells empty, numbers plain. Types come from validation.json.
 *
 * One part reads some of the file's blocks of whole records (read/record-cut.ts), in any share: `parts`
 * of them run side by side on the file's blocks, and the first merges the others' partials and finishes
 * the statistics. Counts, extremes, quantiles and tallies come out the same however the rows were shared
 * (a value's first occurrence is ordered by its block and row, a mean and std merged from per-block sums in
 * block order): the report depends on the file alone, not on how many parts read it.
 */
export class AnalysisPart {
  private readonly columns: Column[];
  private readonly numbers: (NumericColumn | undefined)[];
  private readonly tallies: (CategoryColumn | undefined)[];
  private readonly missing: Float64Array;
  private readonly reader: CanonicalRecords;
  private rows = 0;
  /** The current block's: whether its first record is the header, its number, and the row being read. */
  private header = false;
  private blockIndex = 0;
  private row = 0;

  constructor(fields: readonly { name: string; type: FieldType }[], tmpDir: string, part: number, parts: number) {
    const spillDir = join(tmpDir, 'spill', `part-${part}`);
    mkdirSync(spillDir, { recursive: true });
    // Each part keeps its share of what one column may hold in memory, so the parts together keep no more.
    const share = (n: number) => Math.ceil(n / parts);
    this.columns = fields.map((f, i) =>
      isNumericType(f.type)
        ? { name: f.name, type: f.type as NumericColumnStats['type'], stats: new NumericColumn(join(spillDir, `n${i}.f64`)) }
        : { name: f.name, type: f.type as CategoricalColumnStats['type'], stats: new CategoryColumn(spillDir, `c${i}`, share(categoryMemory.values), 64, share(categoryMemory.bytes)) },
    );
    // Per column, its numbers or its tallies: one typed slot each, so the row loop does not test classes.
    this.numbers = this.columns.map((c) => (c.stats instanceof NumericColumn ? c.stats : undefined));
    this.tallies = this.columns.map((c) => (c.stats instanceof CategoryColumn ? c.stats : undefined));
    this.missing = new Float64Array(this.columns.length);
    const { numbers, tallies, missing } = this;
    const width = this.columns.length;
    this.reader = new CanonicalRecords(({ text, count, starts, ends, hashes }) => {
      if (this.header) {
        this.header = false;
        return;
      }
      this.rows += 1;
      const block = this.blockIndex;
      const row = this.row++;
      if (count !== width) throw unreadable(`the record at byte ${this.reader.at(starts[0]!)} has ${count} fields, not ${width}`);
      for (let i = 0; i < count; i += 1) {
        const start = starts[i]!;
        const end = ends[i]!;
        const numeric = numbers[i];
        // Empty, or (never written so, but read as such) an empty quoted value.
        if (end === start || (end === start + 2 && isQuoted(text, start))) missing[i]! += 1;
        else if (numeric) numeric.add(plainDecimal(text, start, end) ?? Number(fieldValue(text, start, end)));
        else tallies[i]!.addBytes(text, start, end, hashes[i]!, block, row);
      }
    });
  }

  /** Block `index` of the file (block 0 starts with the header), whole records from byte `offset`. */
  block(bytes: Buffer, index: number, offset: number): void {
    // Values are read from the bytes, most never decoded: the bytes are checked to be UTF-8 first. A block
    // ends at an LF, so no character is split between blocks.
    if (!isUtf8(bytes)) throw unreadable(`it is not valid UTF-8 (in the block at byte ${offset})`);
    this.header = index === 0;
    this.blockIndex = index;
    this.row = 0;
    this.reader.pushBlock(bytes, offset);
    for (const numeric of this.numbers) numeric?.endBlock(index);
  }

  /** This part's statistics so far, its spill files closed, for the part that finishes the analysis. */
  partial(): AnalysisPartial {
    return { rows: this.rows, missing: this.missing, columns: this.columns.map((c) => c.stats.partial()) };
  }

  /** The analysis of the whole file: this part's rows and the other parts' partials. */
  report(others: readonly AnalysisPartial[]): AnalysisReport {
    let rows = this.rows;
    const missing = Float64Array.from(this.missing);
    for (const p of others) {
      rows += p.rows;
      p.missing.forEach((m, i) => (missing[i]! += m));
      this.columns.forEach((c, i) => {
        const share = p.columns[i]!;
        if (c.stats instanceof NumericColumn) c.stats.merge(share as NumericPartial);
        else c.stats.merge(share as CategoryPartial);
      });
    }
    return {
      rows,
      columns: this.columns.map((c, i): NumericColumnStats | CategoricalColumnStats => {
        if (c.stats instanceof NumericColumn) {
          const s = c.stats.finish();
          return { name: c.name, type: c.type as NumericColumnStats['type'], count: s.count, missing: missing[i]!, mean: s.mean, std: s.std, min: s.min, '25%': s.q25, '50%': s.q50, '75%': s.q75, max: s.max };
        }
        const s = c.stats.finish();
        return { name: c.name, type: c.type as CategoricalColumnStats['type'], count: s.count, missing: missing[i]!, unique: s.unique, top: s.top, freq: s.freq };
      }),
    };
  }
}
