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
/** Values held before they are spilled: as many as one block of readFloat64Blocks, so an unspilled column is read as one such block. */
const pendingLimit = 1 << 16;

export class NumericColumn {
  private count = 0;
  private readonly sum = new CompensatedSum();
  private min = Infinity;
  private max = -Infinity;
  /** Opened when `pending` first fills at its full size: a column of fewer values never touches the disk. */
  private spill: SpillWriter | undefined;
  /**
   * Values not yet spilled: filled in place, written as one piece. It starts small and doubles up to
   * `pendingLimit`, so a job of a few rows does not allocate half a megabyte per numeric column.
   */
  private pending = new Float64Array(1 << 10);
  private held = 0;

  constructor(
    private readonly spillPath: string,
    // 2 MB per wanted rank at most; large enough that a column of a few million values is collected on the second pass.
    private readonly collectLimit = 1 << 18,
  ) {}

  add(x: number): void {
    this.count += 1;
    this.sum.add(x);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    this.pending[this.held++] = x;
    if (this.held === this.pending.length) this.grow();
  }

  finish(): NumericSummary {
    // Values that never left memory are read from there, in the one block the spill file would have given.
    let source: string | Float64Array = this.pending.subarray(0, this.held);
    if (this.spill) {
      this.flush(this.spill);
      this.spill.close();
      source = this.spillPath;
    }
    const n = this.count;
    if (n === 0) return { count: 0, mean: null, std: null, min: null, q25: null, q50: null, q75: null, max: null };
    const mean = this.sum.value / n;
    const squares = new CompensatedSum();
    const ranks = [0.25, 0.5, 0.75].flatMap((q) => {
      const h = (n - 1) * q;
      return [Math.floor(h), Math.min(Math.floor(h) + 1, n - 1)];
    });
    // The sum of squares rides on the quantiles' first pass: one read of the spill file fewer.
    const values = orderStatistics(source, n, ranks, this.collectLimit, (block) => {
      for (const x of block) squares.add((x - mean) * (x - mean));
    });
    const std = n > 1 ? Math.sqrt(squares.value / (n - 1)) : null;
    const at = (q: number) => {
      const h = (n - 1) * q;
      const lo = Math.floor(h);
      return lerp(values.get(lo) as number, values.get(Math.min(lo + 1, n - 1)) as number, h - lo);
    };
    return { count: n, mean, std, min: this.min, q25: at(0.25), q50: at(0.5), q75: at(0.75), max: this.max };
  }

  private grow(): void {
    if (this.pending.length < pendingLimit) {
      const larger = new Float64Array(this.pending.length * 2);
      larger.set(this.pending);
      this.pending = larger;
      return;
    }
    this.spill ??= new SpillWriter(this.spillPath, 0);
    this.flush(this.spill);
  }

  private flush(spill: SpillWriter): void {
    spill.append(new Uint8Array(this.pending.buffer, 0, this.held * 8));
    this.held = 0;
  }
}

/**
 * The k-th smallest of `a` (0-based), reordering `a` in place: quickselect with a three-way partition, so
 * runs of equal values (integer columns) cost nothing extra. Linear on average, where a full sort of a
 * collected bucket cost more than the passes over the spill file (TypedArray#sort boxes every value).
 */
export function select(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const x = a[lo] as number;
    const y = a[(lo + hi) >>> 1] as number;
    const z = a[hi] as number;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    // a[lo..lt) < pivot, a[lt..i) == pivot, a(gt..hi] > pivot
    let lt = lo;
    let gt = hi;
    let i = lo;
    while (i <= gt) {
      const v = a[i] as number;
      if (v < pivot) {
        a[i] = a[lt] as number;
        a[lt] = v;
        lt += 1;
        i += 1;
      } else if (v > pivot) {
        a[i] = a[gt] as number;
        a[gt] = v;
        gt -= 1;
      } else i += 1;
    }
    if (k < lt) hi = lt - 1;
    else if (k > gt) lo = gt + 1;
    else return pivot;
  }
  return a[lo] as number;
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

/** The bucket's key prefix as masks over the two halves, so membership is two compares, not a digit loop. */
function prefixOf(b: Bucket): { maskHi: number; hi: number; maskLo: number; lo: number } {
  const d = (l: number) => (b.level > l ? (b.digits[l] as number) : 0);
  const m = (l: number) => (b.level > l ? 0xffff : 0);
  return {
    maskHi: ((m(0) << 16) | m(1)) >>> 0,
    hi: ((d(0) << 16) | d(1)) >>> 0,
    maskLo: ((m(2) << 16) | m(3)) >>> 0,
    lo: ((d(2) << 16) | d(3)) >>> 0,
  };
}

interface Group {
  bucket: Bucket;
  /** Histogram of the next digit, or undefined when the bucket is small enough to collect. */
  counts: Uint32Array | undefined;
  /** Collected values (the bucket's size is known from the previous pass). */
  values: Float64Array;
  filled: number;
}

/**
 * One pass over the spill file (or the values a column held in memory): counts or collects each group's
 * members. Groups in the outer loop keep the inner loop tight.
 */
function scan(source: string | Float64Array, groups: readonly Group[], eachBlock: ((block: Float64Array) => void) | undefined): void {
  const prefixes = groups.map((g) => prefixOf(g.bucket));
  // Groups that are all buckets of the first digit (the second pass, usually the last) are found by that
  // digit in one loop over the values, not one loop per group.
  const byFirstDigit = groups.length > 1 && groups.every((g) => g.bucket.level === 1) ? new Int32Array(65536).fill(-1) : undefined;
  groups.forEach((g, k) => byFirstDigit && (byFirstDigit[g.bucket.digits[0]!] = k));
  for (const block of typeof source === 'string' ? readFloat64Blocks(source) : [source]) {
    eachBlock?.(block);
    const words = new Uint32Array(block.buffer, block.byteOffset, block.length * 2);
    if (byFirstDigit) {
      for (let i = 0; i < block.length; i += 1) {
        const rawHi = words[2 * i + 1] as number;
        const hi = sortableHi(rawHi);
        const k = byFirstDigit[hi >>> 16]!;
        if (k < 0) continue;
        const g = groups[k]!;
        if (g.counts) g.counts[hi & 0xffff]! += 1;
        else g.values[g.filled++] = block[i] as number;
      }
      continue;
    }
    for (let k = 0; k < groups.length; k += 1) {
      const g = groups[k]!;
      const { maskHi, hi: wantHi, maskLo, lo: wantLo } = prefixes[k]!;
      const counts = g.counts;
      const level = g.bucket.level;
      for (let i = 0; i < block.length; i += 1) {
        const rawHi = words[2 * i + 1] as number;
        const hi = sortableHi(rawHi);
        const lo = sortableLo(rawHi, words[2 * i] as number);
        if ((hi & maskHi) >>> 0 !== wantHi || (lo & maskLo) >>> 0 !== wantLo) continue;
        if (counts) counts[digit(hi, lo, level)]! += 1;
        else g.values[g.filled++] = block[i] as number;
      }
    }
  }
}

/** Exact values at the given 0-based ranks of the sorted spill file or values, in bounded memory (see NumericColumn). */
export function orderStatistics(source: string | Float64Array, n: number, ranks: readonly number[], collectLimit: number, firstPass?: (block: Float64Array) => void): Map<number, number> {
  let eachBlock = firstPass;
  const found = new Map<number, number>();
  let pending = [...new Set(ranks)].map((rank) => ({ rank, within: rank, bucket: { level: 0, digits: [], size: n } as Bucket }));
  while (pending.length > 0) {
    // Targets sharing a bucket share one histogram or one collection.
    const groups = new Map<string, Group>();
    for (const t of pending) {
      const id = `${t.bucket.level}:${t.bucket.digits.join('.')}`;
      if (!groups.has(id)) {
        const collect = t.bucket.size <= collectLimit || t.bucket.level === 4;
        groups.set(id, { bucket: t.bucket, counts: collect ? undefined : new Uint32Array(65536), values: new Float64Array(collect ? t.bucket.size : 0), filled: 0 });
      }
    }
    scan(source, [...groups.values()], eachBlock);
    eachBlock = undefined;
    const next: typeof pending = [];
    for (const t of pending) {
      const g = groups.get(`${t.bucket.level}:${t.bucket.digits.join('.')}`)!;
      if (!g.counts) {
        found.set(t.rank, select(g.values, t.within));
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
