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
  sum = 0;
  c = 0;
  add(x: number): void {
    const t = this.sum + x;
    this.c += Math.abs(this.sum) >= Math.abs(x) ? this.sum - t + x : x - t + this.sum;
    this.sum = t;
  }
  /** Another sum (a block's): its running sum added as a term, its compensation to ours. */
  merge(sum: number, c: number): void {
    this.add(sum);
    this.c += c;
  }
  get value(): number {
    return this.sum + this.c;
  }
}

/** A block's values (read/record-cut.ts) summed: count, compensated sum and squared deviations from its own mean. */
interface BlockStats {
  index: number;
  n: number;
  sum: number;
  c: number;
  m2: number;
}

/**
 * What one analysis thread knows of a column after its share of the rows (analyser.ts): enough for the
 * thread that finishes the column to merge it, its values left where they are (spill file or memory).
 */
export interface NumericPartial {
  count: number;
  min: number;
  max: number;
  blocks: BlockStats[];
  /** The values: a closed spill file, or those held in memory. */
  values: string | Float64Array;
}

/**
 * One numeric column's statistics, as pandas `describe` computes them, in bounded memory, from values
 * that arrive in blocks (the file's blocks, numbered in file order; threads may each see some of them).
 *
 * - Mean and std are merged from per-block sums in block order, so they come out the same to the last
 *   bit however the blocks were shared among threads. Each block is summed (compensated) when it ends,
 *   while its values are in memory, and its squared deviations from its own mean summed in a second pass
 *   over them (pandas' two-pass formula within the block); blocks merge by Chan's formula for M2. The
 *   mean is the compensated sum of the block sums over the count.
 * - Values are spilled to a private file as float64 (8 bytes each) at block ends, once enough are held.
 * - Quantiles are exact, by histogram refinement: each value maps to a 64-bit key that sorts like the
 *   number; one pass counts keys per leading 16 bits and so finds the bucket holding each wanted rank;
 *   the next pass collects that bucket's values and sorts them (or, if it is still larger than
 *   `collectLimit`, counts by the next 16 bits, at most four levels, where a bucket is a single value).
 *   Memory is a few 65536-entry histograms plus at most `collectLimit` values per wanted rank, whatever
 *   the file size; time is two or three sequential reads of 8n bytes. External sorting would need
 *   log-many passes and rewrites of the whole file for the same six order statistics.
 * - Quantiles interpolate linearly between the two neighbouring order statistics, with numpy's
 *   formula, so 25/50/75% match pandas to the last bit.
 */
/** Values held before they are spilled at a block's end: as many as one block of readFloat64Blocks. */
const pendingLimit = 1 << 16;

export class NumericColumn {
  private count = 0;
  private min = Infinity;
  private max = -Infinity;
  private readonly blocks: BlockStats[] = [];
  /** Opened when `pending` first holds `pendingLimit` values at a block's end: a column of fewer values never touches the disk. */
  private spill: SpillWriter | undefined;
  /**
   * Values not yet spilled: filled in place, written as one piece. It starts small and doubles as
   * needed, so a job of a few rows does not allocate half a megabyte per numeric column.
   */
  private pending = new Float64Array(1 << 10);
  private held = 0;
  /** Where the current block's values start in `pending`. */
  private blockStart = 0;
  /** Other threads' values, merged in (see `merge`), read after this column's own. */
  private readonly others: (string | Float64Array)[] = [];

  constructor(
    private readonly spillPath: string,
    // 2 MB per wanted rank at most; large enough that a column of a few million values is collected on the second pass.
    private readonly collectLimit = 1 << 18,
  ) {}

  add(x: number): void {
    this.count += 1;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    if (this.held === this.pending.length) this.grow();
    this.pending[this.held++] = x;
  }

  /** The values added since the last block's end are block `index` of the file. */
  endBlock(index: number): void {
    const from = this.blockStart;
    const to = this.held;
    if (to > from) {
      const values = this.pending;
      const sum = new CompensatedSum();
      for (let i = from; i < to; i += 1) sum.add(values[i]!);
      const n = to - from;
      const mean = sum.value / n;
      const squares = new CompensatedSum();
      for (let i = from; i < to; i += 1) {
        const d = values[i]! - mean;
        squares.add(d * d);
      }
      this.blocks.push({ index, n, sum: sum.sum, c: sum.c, m2: squares.value });
    }
    if (this.held >= pendingLimit) {
      this.spill ??= new SpillWriter(this.spillPath, 0);
      this.flush(this.spill);
    }
    this.blockStart = this.held;
  }

  /** This column's share, its spill file closed: for the thread that finishes it. */
  partial(): NumericPartial {
    this.endBlock(Infinity);
    return { count: this.count, min: this.min, max: this.max, blocks: this.blocks, values: this.ownValues() };
  }

  /** Another thread's share of the rows (its `partial()`). */
  merge(p: NumericPartial): void {
    this.count += p.count;
    if (p.min < this.min) this.min = p.min;
    if (p.max > this.max) this.max = p.max;
    this.blocks.push(...p.blocks);
    this.others.push(p.values);
  }

  finish(): NumericSummary {
    // Values added outside any block (a caller that never ends one) are one block, last.
    this.endBlock(Infinity);
    const sources = [this.ownValues(), ...this.others];
    const n = this.count;
    if (n === 0) return { count: 0, mean: null, std: null, min: null, q25: null, q50: null, q75: null, max: null };
    // In file order, whichever thread summed each block: the result does not depend on the sharing.
    const blocks = [...this.blocks].sort((a, b) => (a.index === b.index ? 0 : a.index < b.index ? -1 : 1));
    const sum = new CompensatedSum();
    let seen = 0;
    let runningMean = 0;
    let m2 = 0;
    for (const b of blocks) {
      sum.merge(b.sum, b.c);
      const blockMean = (b.sum + b.c) / b.n;
      const total = seen + b.n;
      const delta = blockMean - runningMean;
      m2 += b.m2 + ((delta * delta * seen) / total) * b.n;
      runningMean += (delta * b.n) / total;
      seen = total;
    }
    const mean = sum.value / n;
    const std = n > 1 ? Math.sqrt(m2 / (n - 1)) : null;
    const ranks = [0.25, 0.5, 0.75].flatMap((q) => {
      const h = (n - 1) * q;
      return [Math.floor(h), Math.min(Math.floor(h) + 1, n - 1)];
    });
    const values = orderStatistics(sources, n, ranks, this.collectLimit);
    const at = (q: number) => {
      const h = (n - 1) * q;
      const lo = Math.floor(h);
      return lerp(values.get(lo) as number, values.get(Math.min(lo + 1, n - 1)) as number, h - lo);
    };
    return { count: n, mean, std, min: this.min, q25: at(0.25), q50: at(0.5), q75: at(0.75), max: this.max };
  }

  /** Values that never left memory are read from there, in the one block the spill file would have given. */
  private ownValues(): string | Float64Array {
    if (!this.spill) return this.pending.subarray(0, this.held);
    this.flush(this.spill);
    this.spill.close();
    return this.spillPath;
  }

  /** Values are spilled only at a block's end (its sums need them), so a block's values may outgrow the limit. */
  private grow(): void {
    const larger = new Float64Array(this.pending.length * 2);
    larger.set(this.pending);
    this.pending = larger;
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

/** Each source's values in turn, a block at a time (a spill file's block array is reused: use it before the next). */
function* blocksOf(sources: readonly (string | Float64Array)[]): Generator<Float64Array> {
  for (const source of sources) {
    if (typeof source === 'string') yield* readFloat64Blocks(source);
    else yield source;
  }
}

/**
 * One pass over every source (a spill file, or values held in memory): counts or collects each group's
 * members. Groups in the outer loop keep the inner loop tight.
 */
function scan(sources: readonly (string | Float64Array)[], groups: readonly Group[]): void {
  const prefixes = groups.map((g) => prefixOf(g.bucket));
  // Groups that are all buckets of the first digit (the second pass, usually the last) are found by that
  // digit in one loop over the values, not one loop per group.
  const byFirstDigit = groups.length > 1 && groups.every((g) => g.bucket.level === 1) ? new Int32Array(65536).fill(-1) : undefined;
  groups.forEach((g, k) => byFirstDigit && (byFirstDigit[g.bucket.digits[0]!] = k));
  for (const block of blocksOf(sources)) {
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

/** Exact values at the given 0-based ranks of all the sources' values sorted together, in bounded memory (see NumericColumn). */
export function orderStatistics(sources: readonly (string | Float64Array)[], n: number, ranks: readonly number[], collectLimit: number): Map<number, number> {
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
    scan(sources, [...groups.values()]);
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
