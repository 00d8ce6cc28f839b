import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpillWriter } from './spill-file.js';

export interface CategorySummary {
  count: number;
  unique: number;
  top: string | null;
  freq: number | null;
}

interface Tally {
  count: number;
  /** Index of the value's first occurrence: ties for `top` go to the value seen first. */
  first: number;
}

/**
 * Exact unique / top / freq of one text column in bounded memory. Counts live in a Map until the column
 * has `memoryLimit` distinct values; from then on every value is appended to one of `partitions` files by
 * hash (the Map's tallies first), and the end counts each file separately: a value lands in one file
 * only, so per-file counts are exact, and memory is the largest file's distinct values.
 */
export class CategoryColumn {
  private tallies: Map<string, Tally> | undefined = new Map();
  private files: SpillWriter[] = [];
  private seen = 0;

  constructor(
    private readonly spillDir: string,
    private readonly name: string,
    private readonly memoryLimit = 200_000,
    private readonly partitions = 64,
  ) {}

  add(value: string): void {
    const index = this.seen++;
    if (this.tallies) {
      const t = this.tallies.get(value);
      if (t) t.count += 1;
      else {
        this.tallies.set(value, { count: 1, first: index });
        if (this.tallies.size > this.memoryLimit) this.spillAll();
      }
      return;
    }
    this.append(value, { count: 1, first: index });
  }

  finish(): CategorySummary {
    let summary = { unique: 0, top: null as string | null, freq: null as number | null, first: Infinity };
    const consider = (tallies: Map<string, Tally>) => {
      summary.unique += tallies.size;
      for (const [value, t] of tallies) {
        if (summary.freq === null || t.count > summary.freq || (t.count === summary.freq && t.first < summary.first)) {
          summary = { ...summary, top: value, freq: t.count, first: t.first };
        }
      }
    };
    if (this.tallies) consider(this.tallies);
    else {
      for (const file of this.files) {
        file.close();
        consider(readPartition(file.path));
      }
    }
    return { count: this.seen, unique: summary.unique, top: summary.top, freq: summary.freq };
  }

  private spillAll(): void {
    const tallies = this.tallies!;
    this.tallies = undefined;
    this.files = Array.from({ length: this.partitions }, (_, i) => new SpillWriter(join(this.spillDir, `${this.name}-${i}.bin`), 64 * 1024));
    for (const [value, t] of tallies) this.append(value, t);
  }

  /** Record: count u32, first f64, byte length u32, UTF-8 bytes. */
  private append(value: string, t: Tally): void {
    const file = this.files[hash(value) % this.partitions]!;
    const bytes = Buffer.byteLength(value);
    const buf = file.reserve(16 + bytes);
    const at = file.offset;
    buf.writeUInt32LE(t.count, at);
    buf.writeDoubleLE(t.first, at + 4);
    buf.writeUInt32LE(bytes, at + 12);
    buf.write(value, at + 16, 'utf8');
    file.advance(16 + bytes);
  }
}

function readPartition(path: string): Map<string, Tally> {
  const data = readFileSync(path);
  const tallies = new Map<string, Tally>();
  for (let at = 0; at < data.length; ) {
    const count = data.readUInt32LE(at);
    const first = data.readDoubleLE(at + 4);
    const bytes = data.readUInt32LE(at + 12);
    const value = data.toString('utf8', at + 16, at + 16 + bytes);
    at += 16 + bytes;
    const t = tallies.get(value);
    if (t) {
      t.count += count;
      if (first < t.first) t.first = first;
    } else tallies.set(value, { count, first });
  }
  return tallies;
}

/** FNV-1a over UTF-16 code units: cheap, and spreads similar strings across partitions. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i += 1) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
