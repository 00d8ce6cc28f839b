import { readFloat64Blocks, SpillWriter } from './spill-file.js';

export interface NumericSummary {
  count: number;
  mean: number | null;
  std: number | null;
  min: number | null;
  q25: number | null;
  q50: number | null;
  q75: number | null;
  max: number | null;
}

/** Neumaier's compensated sum: error independent of the number of terms. */
class CompensatedSum {
  private sum = 0;
  private c = 0;
  add(x: number): void {
    const t = this.sum + x;
    this.c += Math.abs(this.sum) >= Math.abs(x) ? this.sum - t + x : x - t + this.sum;
    this.sum = t;
  }
  get value(): number {
    return this.sum + this.c;
  }
}

/**
 * One numeric column's statistics, as pandas `describe` computes them, in bounded memory.
 *
 * Values are spilled to a private file as float64 while parsing (8 bytes each); the mean is a
 * compensated sum over the count. At the end:
 * - std is pandas' two-pass formula, sqrt(sum((x - mean)^2) / (n - 1)), over the spill file;
 * - quantiles are exact, by histogram refinement: each value maps to a 64-bit key that sorts like the
 *   number; one pass counts keys per leading 16 bits and so finds the bucket holding each wanted rank;
 *   the next pass collects that bucket's values and sorts them (or, if it is still larger than
 *   `collectLimit`, counts by the next 16 bits, at most four levels, where a bucket is a single value).
 *   Memory is a few 65536-entry histograms plus at most `collectLimit` values per wanted rank, whatever
 *   the file size; time is two or three sequential reads of 8n bytes. External sorting would need
 *   log-many passes and rewrites of the whole file for the same six order statistics.
 * - quantiles interpolate linearly between the two neighbouring order statistics, with numpy's
 *   formula, so 25/50/75% match pandas to the last bit.
 */
export class NumericColumn {
  private count = 0;
  private readonly sum = new CompensatedSum();
  private min = Infinity;
  private max = -Infinity;
  private readonly spill: SpillWriter;

  constructor(
    private readonly spillPath: string,
    private readonly collectLimit = 1 << 21,
  ) {
    this.spill = new SpillWriter(spillPath);
  }

  add(x: number): void {
    this.count += 1;
    this.sum.add(x);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    const buf = this.spill.reserve(8);
    buf.writeDoubleLE(x, this.spill.offset);
    this.spill.advance(8);
  }

  finish(): NumericSummary {
    this.spill.close();
    const n = this.count;
    if (n === 0) return { count: 0, mean: null, std: null, min: null, q25: null, q50: null, q75: null, max: null };
    const mean = this.sum.value / n;
    const squares = new CompensatedSum();
    for (const block of readFloat64Blocks(this.spillPath)) for (const x of block) squares.add((x - mean) * (x - mean));
    const std = n > 1 ? Math.sqrt(squares.value / (n - 1)) : null;
    const ranks = [0.25, 0.5, 0.75].flatMap((q) => {
      const h = (n - 1) * q;
      return [Math.floor(h), Math.min(Math.floor(h) + 1, n - 1)];
    });
    const values = orderStatistics(this.spillPath, n, ranks, this.collectLimit);
    const at = (q: number) => {
      const h = (n - 1) * q;
      const lo = Math.floor(h);
      return lerp(values.get(lo) as number, values.get(Math.min(lo + 1, n - 1)) as number, h - lo);
    };
    return { count: n, mean, std, min: this.min, q25: at(0.25), q50: at(0.5), q75: at(0.75), max: this.max };
  }
}

/** numpy's `_lerp`, which interpolates from the nearer end for t >= 0.5. */
export function lerp(a: number, b: number, t: number): number {
  const d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/**
 * Sortable 64-bit key of a double as high and low 32-bit halves (little-endian float64 words): flip all
 * bits of negatives, the sign bit of positives.
 */
const sortableHi = (hi: number) => (hi & 0x80000000 ? ~hi >>> 0 : (hi | 0x80000000) >>> 0);
const sortableLo = (hi: number, lo: number) => (hi & 0x80000000 ? ~lo >>> 0 : lo);
const scratch = new Float64Array(1);
const halves = new Uint32Array(scratch.buffer);
function valueOf(hi: number, lo: number): number {
  if (hi & 0x80000000) [halves[1], halves[0]] = [(hi & 0x7fffffff) >>> 0, lo];
  else [halves[1], halves[0]] = [~hi >>> 0, ~lo >>> 0];
  return scratch[0] as number;
}
/** The 16-bit digit of a key at level 0..3 (most significant first). */
const digit = (hi: number, lo: number, level: number) =>
  level === 0 ? hi >>> 16 : level === 1 ? hi & 0xffff : level === 2 ? lo >>> 16 : lo & 0xffff;

/** A set of values: those whose key starts with `level` given digits. */
interface Bucket {
  level: number;
  digits: number[];
  size: number;
}
const inBucket = (b: Bucket, hi: number, lo: number) => {
  for (let l = 0; l < b.level; l += 1) if (digit(hi, lo, l) !== b.digits[l]) return false;
  return true;
};

/** Exact values at the given 0-based ranks of the sorted spill file, in bounded memory (see NumericColumn). */
export function orderStatistics(path: string, n: number, ranks: readonly number[], collectLimit: number): Map<number, number> {
  const found = new Map<number, number>();
  let pending = [...new Set(ranks)].map((rank) => ({ rank, within: rank, bucket: { level: 0, digits: [], size: n } as Bucket }));
  while (pending.length > 0) {
    // Targets sharing a bucket share one histogram or one collection.
    const groups = new Map<string, { bucket: Bucket; collect: boolean; values: number[]; counts: Uint32Array | undefined }>();
    for (const t of pending) {
      const id = `${t.bucket.level}:${t.bucket.digits.join('.')}`;
      if (!groups.has(id)) {
        const collect = t.bucket.size <= collectLimit || t.bucket.level === 4;
        groups.set(id, { bucket: t.bucket, collect, values: [], counts: collect ? undefined : new Uint32Array(65536) });
      }
    }
    const all = [...groups.values()];
    for (const block of readFloat64Blocks(path)) {
      const words = new Uint32Array(block.buffer, block.byteOffset, block.length * 2);
      for (let i = 0; i < block.length; i += 1) {
        const rawHi = words[2 * i + 1] as number;
        const hi = sortableHi(rawHi);
        const lo = sortableLo(rawHi, words[2 * i] as number);
        for (const g of all) {
          if (!inBucket(g.bucket, hi, lo)) continue;
          if (g.counts) g.counts[digit(hi, lo, g.bucket.level)]! += 1;
          else g.values.push(block[i] as number);
        }
      }
    }
    const next: typeof pending = [];
    for (const t of pending) {
      const g = groups.get(`${t.bucket.level}:${t.bucket.digits.join('.')}`)!;
      if (g.collect) {
        const sorted = Float64Array.from(g.values).sort();
        found.set(t.rank, sorted[t.within] as number);
        continue;
      }
      let below = 0;
      for (let d = 0; d < 65536; d += 1) {
        const c = g.counts![d] as number;
        if (t.within < below + c) {
          const bucket = { level: t.bucket.level + 1, digits: [...t.bucket.digits, d], size: c };
          if (bucket.level === 4) found.set(t.rank, valueOf(((bucket.digits[0]! << 16) | bucket.digits[1]!) >>> 0, ((bucket.digits[2]! << 16) | bucket.digits[3]!) >>> 0));
          else next.push({ rank: t.rank, within: t.within - below, bucket });
          break;
        }
        below += c;
      }
    }
    pending = next;
  }
  return found;
}
