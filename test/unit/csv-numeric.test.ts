import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { lerp, NumericColumn } from '../../src/tasks/csv/analyse/numeric-column.js';
import { CategoryColumn } from '../../src/tasks/csv/analyse/category-column.js';
import { fnv1a } from '../../src/tasks/csv/read/canonical-reader.js';
import { csvCell } from '../../src/tasks/csv/read/csv-text.js';

/** Reference statistics the plain way: full sort, two-pass mean and variance (as pandas does). */
function reference(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = values.length;
  const mean = values.reduce((s, x) => s + x, 0) / n;
  const std = Math.sqrt(values.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  const q = (p: number) => {
    const h = (n - 1) * p;
    const lo = Math.floor(h);
    const a = sorted[lo]!;
    const b = sorted[Math.min(lo + 1, n - 1)]!;
    return a + (b - a) * (h - lo);
  };
  return { mean, std, min: sorted[0]!, q25: q(0.25), q50: q(0.5), q75: q(0.75), max: sorted[n - 1]! };
}

function closeTo(actual: number | null, expected: number, what: string) {
  assert.ok(actual !== null, `${what} is null`);
  const tolerance = 1e-9 * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected}`);
}

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'csv-unit-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Values added as analysis adds them: a block at a time (`size` values each), numbered from `first`. */
function fill(col: NumericColumn, values: readonly number[], size = 1_000, first = 0): void {
  values.forEach((v, i) => {
    col.add(v);
    if ((i + 1) % size === 0 || i === values.length - 1) col.endBlock(first + Math.floor(i / size));
  });
}

// A deterministic generator: tests must not be flaky.
function* lcg(seed: number): Generator<number> {
  let s = seed >>> 0;
  for (;;) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    yield s / 2 ** 32;
  }
}

for (const [label, collectLimit] of [['collected in one pass', 1 << 21], ['refined by histograms', 64], ['refined to single keys', 1]] as const) {
  test(`numeric column: exact quantiles and two-pass std, ${label}`, () => {
    const rnd = lcg(42);
    // Mixed signs and magnitudes, many duplicates, negative zero: the cases key ordering must get right.
    const values = Array.from({ length: 20_001 }, (_, i) => {
      const r = rnd.next().value as number;
      if (i % 7 === 0) return Math.round(r * 10) - 5;
      if (i % 11 === 0) return -0;
      return (r - 0.5) * 10 ** Math.floor(r * 12 - 4);
    });
    const stats = withDir((dir) => {
      const col = new NumericColumn(join(dir, 'n.f64'), collectLimit);
      fill(col, values);
      return col.finish();
    });
    const ref = reference(values);
    assert.equal(stats.count, values.length);
    closeTo(stats.mean, ref.mean, 'mean');
    closeTo(stats.std, ref.std, 'std');
    assert.equal(stats.min, ref.min);
    assert.equal(stats.max, ref.max);
    closeTo(stats.q25, ref.q25, '25%');
    closeTo(stats.q50, ref.q50, '50%');
    closeTo(stats.q75, ref.q75, '75%');
  });
}

test('numeric column: large offset keeps std accurate (the naive sum of squares would not)', () => {
  const values = Array.from({ length: 10_000 }, (_, i) => 1e9 + (i % 10) * 0.1);
  const stats = withDir((dir) => {
    const col = new NumericColumn(join(dir, 'n.f64'));
    fill(col, values, 777);
    return col.finish();
  });
  closeTo(stats.std, reference(values).std, 'std');
});

test('numeric column: one value has no std, none has no statistics (pandas NaN)', () => {
  withDir((dir) => {
    const one = new NumericColumn(join(dir, 'a.f64'));
    one.add(3);
    assert.deepEqual(one.finish(), { count: 1, mean: 3, std: null, min: 3, q25: 3, q50: 3, q75: 3, max: 3 });
    const none = new NumericColumn(join(dir, 'b.f64'));
    assert.equal(none.finish().mean, null);
  });
});

test('numeric column: up to 65,535 values stay in memory (no spill file), more spill; both exact', () => {
  const rnd = lcg(7);
  const values = Array.from({ length: 140_000 }, () => Math.round(((rnd.next().value as number) - 0.5) * 1e6) / 100);
  withDir((dir) => {
    for (const [n, spills] of [[65_535, false], [140_000, true]] as const) {
      const path = join(dir, `n${n}.f64`);
      const col = new NumericColumn(path);
      const some = values.slice(0, n);
      fill(col, some, 10_000);
      const stats = col.finish();
      assert.equal(existsSync(path), spills, `${n} values: spill file`);
      const ref = reference(some);
      assert.deepEqual([stats.min, stats.max, stats.count], [ref.min, ref.max, n]);
      closeTo(stats.mean, ref.mean, 'mean');
      closeTo(stats.std, ref.std, 'std');
      closeTo(stats.q25, ref.q25, '25%');
      closeTo(stats.q50, ref.q50, '50%');
      closeTo(stats.q75, ref.q75, '75%');
    }
  });
});

test('lerp follows numpy: interpolates from the nearer end', () => {
  assert.equal(lerp(1, 2, 0.25), 1.25);
  assert.equal(lerp(0.1, 0.7, 0.75), 0.7 - (0.7 - 0.1) * 0.25);
});

for (const [label, memoryLimit] of [['in memory', 1_000_000], ['spilled to hash partitions', 5]] as const) {
  test(`category column: unique, top, freq (ties to the first seen), ${label}`, () => {
    const values = ['b', 'a', 'c', 'a', 'b', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'];
    const summary = withDir((dir) => {
      const col = new CategoryColumn(dir, 'c0', memoryLimit, 4);
      for (const v of values) col.add(v);
      return col.finish();
    });
    // a and b both occur twice; b is seen first.
    assert.deepEqual(summary, { count: values.length, unique: 11, top: 'b', freq: 2 });
  });
}

test('numeric column: blocks shared by two threads, merged, give the one column\'s statistics to the last bit, spilled or held', () => {
  const rnd = lcg(11);
  const values = Array.from({ length: 150_000 }, () => Math.round(((rnd.next().value as number) - 0.3) * 1e6) / 100);
  const size = 2_500;
  withDir((dir) => {
    const whole = new NumericColumn(join(dir, 'whole.f64'));
    fill(whole, values, size);
    const expected = whole.finish();
    // Thread 1 gets every third block, so it holds its values (22 blocks of the 60 < 65,536 values) or,
    // given every other block, spills them; thread 0 the rest.
    for (const [label, every] of [['held', 3], ['spilled', 2]] as const) {
      const lead = new NumericColumn(join(dir, `lead-${label}.f64`));
      const other = new NumericColumn(join(dir, `other-${label}.f64`));
      for (let b = 0; b * size < values.length; b += 1) fill(b % every === 1 ? other : lead, values.slice(b * size, (b + 1) * size), size, b);
      const partial = other.partial();
      assert.equal(typeof partial.values === 'string', label === 'spilled', label);
      lead.merge(structuredClone(partial));
      assert.deepEqual(lead.finish(), expected, label);
    }
  });
});

test('category column: partials of two threads merged, in memory or spilled, keep exact tallies and the first seen of a tie', () => {
  // Dealt alternately, as blocks are: 'a' first occurs at 1 (thread 1), 'b' at 2 (thread 0); both occur
  // three times, so top is 'a', found in the other thread's share.
  const values = ['c', 'a', 'b', 'a', 'b', 'a', 'b', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
  // Each value a block of its own, as if blocks were one row long.
  const put = (col: CategoryColumn, v: string, block: number) => {
    const b = Buffer.from(csvCell(v));
    col.addBytes(b, 0, b.length, fnv1a(b, 0, b.length), block, 0);
  };
  for (const [leadLimit, otherLimit] of [[1_000, 1_000], [3, 1_000], [1_000, 3], [3, 3]] as const) {
    const summary = withDir((dir) => {
      const lead = new CategoryColumn(join(dir), 'lead', leadLimit, 4);
      const other = new CategoryColumn(join(dir), 'other', otherLimit, 4);
      values.forEach((v, i) => put(i % 2 === 0 ? lead : other, v, i));
      lead.merge(structuredClone(other.partial()));
      return lead.finish();
    });
    assert.deepEqual(summary, { count: values.length, unique: 10, top: 'a', freq: 3 }, `limits ${leadLimit}/${otherLimit}`);
  }
});
