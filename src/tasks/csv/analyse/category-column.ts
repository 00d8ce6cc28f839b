import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { csvCell } from '../read/csv-text.js';
import { fieldValue, fnv1a } from '../read/canonical-reader.js';
import { SpillWriter } from './spill-file.js';

export interface CategorySummary {
  count: number;
  unique: number;
  top: string | null;
  freq: number | null;
}

interface Tally {
  count: number;
  /** Where the value first occurs (`placeOf`): ties for `top` go to the value seen first. */
  first: number;
}

/** What one column's tallies may hold in memory before they spill: distinct values, and their bytes. */
export const categoryMemory = { values: 200_000, bytes: 32 * 1024 * 1024 } as const;

/** A row's place in the file, comparable across the threads that read its blocks: block, then row in it. */
const placeOf = (block: number, row: number) => block * 2 ** 32 + row;

/** A ByteTally's contents, as one thread hands them to another (analyser.ts). */
export interface TallyState {
  size: number;
  hashes: Int32Array;
  keyStart: Int32Array;
  keyEnd: Int32Array;
  counts: Float64Array;
  firsts: Float64Array;
  arena: Uint8Array;
}

/**
 * What one analysis thread knows of a column after its share of the rows: its tallies in memory, or the
 * partition files it spilled them to (closed), in partition order.
 */
export interface CategoryPartial {
  count: number;
  table: TallyState | undefined;
  files: string[];
}

/**
 * Exact unique / top / freq of one text column in bounded memory. Values arrive as the bytes validated.csv
 * holds (quoted where it quotes them): that encoding is canonical, so equal values are equal bytes and
 * tallies are kept in a hash table over the bytes, without a string per value. Counts stay in memory until
 * the column has `memoryLimit` distinct values (or their bytes pass `memoryBytes`); from then on every
 * value is appended to one of `partitions` files by hash (the table's tallies first), and the end counts
 * each file separately: a value lands in one file only, so per-file counts are exact, and memory is the
 * largest file's distinct values.
 */
export class CategoryColumn {
  private table: ByteTally | undefined = new ByteTally();
  private files: SpillWriter[] = [];
  /** Other threads' partition files, merged in: partition i of each is read with this column's i. */
  private readonly others: string[][] = [];
  private seen = 0;

  constructor(
    private readonly spillDir: string,
    private readonly name: string,
    private readonly memoryLimit: number = categoryMemory.values,
    private readonly partitions = 64,
    private readonly memoryBytes: number = categoryMemory.bytes,
  ) {}

  /** A value as a string (written as validated.csv writes it, then tallied), the next in file order. */
  add(value: string): void {
    const bytes = Buffer.from(csvCell(value), 'utf8');
    this.addBytes(bytes, 0, bytes.length, fnv1a(bytes, 0, bytes.length), 0, this.seen);
  }

  /**
   * A value as validated.csv writes it: `text[start, end)`, quoted if csvCell quotes it, and its fnv1a;
   * found at row `row` of the file's block `block` (threads each read some of the blocks).
   */
  addBytes(text: Buffer, start: number, end: number, hash: number, block: number, row: number): void {
    this.seen += 1;
    const table = this.table;
    if (table) {
      table.add(text, start, end, hash, block, row);
      this.bound();
      return;
    }
    this.append(fieldValue(text, start, end), { count: 1, first: placeOf(block, row) });
  }

  /** This column's share, its files closed: for the thread that finishes it. */
  partial(): CategoryPartial {
    for (const file of this.files) file.close();
    return { count: this.seen, table: this.table?.state(), files: this.files.map((f) => f.path) };
  }

  /** Another thread's share of the rows (its `partial()`). */
  merge(p: CategoryPartial): void {
    this.seen += p.count;
    if (p.files.length > 0) {
      if (this.table) this.spillAll();
      this.others.push(p.files);
    }
    if (!p.table) return;
    const { size, hashes, keyStart, keyEnd, counts, firsts, arena } = p.table;
    const text = Buffer.from(arena.buffer, arena.byteOffset, arena.byteLength);
    for (let e = 0; e < size; e += 1) {
      if (this.table) {
        this.table.merge(hashes[e]!, text, keyStart[e]!, keyEnd[e]!, counts[e]!, firsts[e]!);
        this.bound();
      } else this.append(fieldValue(text, keyStart[e]!, keyEnd[e]!), { count: counts[e]!, first: firsts[e]! });
    }
  }

  private bound(): void {
    const table = this.table!;
    if (table.size > this.memoryLimit || table.bytes > this.memoryBytes) this.spillAll();
  }

  finish(): CategorySummary {
    let summary = { unique: 0, top: null as string | null, freq: null as number | null, first: Infinity };
    const consider = (value: () => string, count: number, first: number) => {
      summary.unique += 1;
      if (summary.freq === null || count > summary.freq || (count === summary.freq && first < summary.first)) summary = { ...summary, top: value(), freq: count, first };
    };
    if (this.table) this.table.forEach((text, start, end, count, first) => consider(() => fieldValue(text, start, end), count, first));
    else {
      this.files.forEach((file, i) => {
        file.close();
        const tallies = readPartition(file.path);
        for (const files of this.others) readPartition(files[i]!, tallies);
        for (const [value, t] of tallies) consider(() => value, t.count, t.first);
      });
    }
    return { count: this.seen, unique: summary.unique, top: summary.top, freq: summary.freq };
  }

  private spillAll(): void {
    const table = this.table!;
    this.table = undefined;
    this.files = Array.from({ length: this.partitions }, (_, i) => new SpillWriter(join(this.spillDir, `${this.name}-${i}.bin`), 64 * 1024));
    table.forEach((text, start, end, count, first) => this.append(fieldValue(text, start, end), { count, first }));
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

/**
 * Counts of byte strings: open addressing over their FNV-1a hashes (taken by the caller, while reading),
 * keys copied into one growing byte arena. Per value it costs a probe and a compare, and allocates nothing
 * once the key is known.
 */
class ByteTally {
  size = 0;
  /** Bytes of all keys. */
  bytes = 0;
  /** Slot -> entry + 1 (0: empty). */
  private slots = new Int32Array(1024);
  private hashes = new Int32Array(512);
  private keyStart = new Int32Array(512);
  private keyEnd = new Int32Array(512);
  private counts = new Float64Array(512);
  private firsts = new Float64Array(512);
  private arena = Buffer.allocUnsafe(64 * 1024);

  /**
   * One more of the value, at row `row` of block `block` of the file. Both are small integers: the call on
   * every value passes no double (a double argument is boxed where the call is not inlined).
   */
  add(text: Uint8Array, start: number, end: number, fnv: number, block: number, row: number): void {
    let h = fnv;
    // FNV's low bits mix poorly, and the low bits pick the slot: one round of murmur3's finaliser.
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h ^= h >>> 13;
    const e = this.find(h, text, start, end);
    if (e >= 0) this.counts[e]! += 1;
    else this.insert(-e - 1, h, text, start, end, 1, placeOf(block, row));
  }

  /** An entry of another table (its state): `count` more of the value, first seen at `first` unless known earlier. */
  merge(h: number, text: Uint8Array, start: number, end: number, count: number, first: number): void {
    const e = this.find(h, text, start, end);
    if (e < 0) return this.insert(-e - 1, h, text, start, end, count, first);
    this.counts[e]! += count;
    if (first < this.firsts[e]!) this.firsts[e] = first;
  }

  /** The value's entry, or -(slot + 1) for the empty slot it would take. */
  private find(h: number, text: Uint8Array, start: number, end: number): number {
    const mask = this.slots.length - 1;
    const arena = this.arena;
    const len = end - start;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const e = this.slots[slot]! - 1;
      if (e < 0) return -slot - 1;
      if (this.hashes[e] !== h) continue;
      const k = this.keyStart[e]!;
      if (this.keyEnd[e]! - k !== len) continue;
      let same = true;
      for (let i = 0; i < len; i += 1) {
        if (arena[k + i] !== text[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return e;
    }
  }

  /** Each key with its count and the index of its first occurrence. */
  forEach(fn: (text: Buffer, start: number, end: number, count: number, first: number) => void): void {
    for (let e = 0; e < this.size; e += 1) fn(this.arena, this.keyStart[e]!, this.keyEnd[e]!, this.counts[e]!, this.firsts[e]!);
  }

  /** The table's arrays themselves (entries past `size` unused): transferring them leaves this thread nothing to collect. */
  state(): TallyState {
    return { size: this.size, hashes: this.hashes, keyStart: this.keyStart, keyEnd: this.keyEnd, counts: this.counts, firsts: this.firsts, arena: this.arena.subarray(0, this.bytes) };
  }

  private insert(slot: number, h: number, text: Uint8Array, start: number, end: number, count: number, first: number): void {
    const e = this.size;
    if (e === this.hashes.length) this.growEntries();
    const len = end - start;
    if (this.bytes + len > this.arena.length) {
      const arena = Buffer.allocUnsafe(Math.max(2 * this.arena.length, this.bytes + len));
      this.arena.copy(arena, 0, 0, this.bytes);
      this.arena = arena;
    }
    this.arena.set(text.subarray(start, end), this.bytes);
    this.keyStart[e] = this.bytes;
    this.keyEnd[e] = this.bytes + len;
    this.bytes += len;
    this.hashes[e] = h;
    this.counts[e] = count;
    this.firsts[e] = first;
    this.slots[slot] = e + 1;
    this.size += 1;
    // At most half full, so probes stay short.
    if (2 * this.size > this.slots.length) this.rehash();
  }

  private growEntries(): void {
    const grow = <T extends Int32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(a.length * 2);
      b.set(a);
      return b;
    };
    this.hashes = grow(this.hashes);
    this.keyStart = grow(this.keyStart);
    this.keyEnd = grow(this.keyEnd);
    this.counts = grow(this.counts);
    this.firsts = grow(this.firsts);
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let e = 0; e < this.size; e += 1) {
      let slot = this.hashes[e]! & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = e + 1;
    }
    this.slots = slots;
  }
}

/** A partition file's tallies, added to `tallies` (another thread's file of the same partition may be there). */
function readPartition(path: string, tallies = new Map<string, Tally>()): Map<string, Tally> {
  const data = readFileSync(path);
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
