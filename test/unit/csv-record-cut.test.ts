import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { unreadable } from '../../src/tasks/csv/read/canonical-reader.js';
import { csvLine } from '../../src/tasks/csv/read/csv-text.js';
import { lastRecordEnd, oddQuotes, RecordBlocks } from '../../src/tasks/csv/read/record-cut.js';
import { fuzzParams } from '../helpers/fuzz.js';

test('oddQuotes counts quotes exactly, at any alignment and length', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(7), fc.nat(100), fc.nat(100), (raw, shift, a, b) => {
      // A third of the bytes '"', so words with several quotes (and none) both occur, the rest any byte (0xA2
      // differs from '"' in its top bit only); placed at an unaligned offset.
      const bytes = new Uint8Array(raw.length + shift).subarray(shift);
      raw.forEach((x, i) => (bytes[i] = x < 80 ? 0x22 : x));
      const [start, end] = [Math.min(a, b, bytes.length), Math.min(Math.max(a, b), bytes.length)];
      const count = bytes.subarray(start, end).filter((x) => x === 0x22).length;
      assert.equal(oddQuotes(bytes, start, end), count % 2 === 1);
    }),
    fuzzParams(500, 20_000),
  );
});

const cell = fc.oneof(fc.constantFrom('', 'a', 'a,b', 'say "hi"', 'two\nlines', '"', '""', '\n', 'é'), fc.string({ maxLength: 6 }));
const records = fc.array(fc.array(cell, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 30 });

test('blocks end where records end, hold every byte once, and read as the same records', () => {
  fc.assert(
    fc.property(records, fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), (rows, piece, chunk, finalLf) => {
      const text = rows.map((r) => csvLine(r)).join('');
      const bytes = Buffer.from(finalLf ? text : text.slice(0, -1));
      const cutter = new RecordBlocks(piece, 1 << 20, unreadable);
      const blocks = [];
      for (let at = 0; at < bytes.length; at += chunk) blocks.push(...cutter.push(bytes.subarray(at, at + chunk)));
      blocks.push(...cutter.end());
      let offset = 0;
      for (const b of blocks) {
        assert.equal(b.offset, offset);
        offset += b.bytes.length;
        // Each block is whole records: csv-parse reads it alone, and lastRecordEnd finds its end at its end.
        assert.equal(b.bytes[b.bytes.length - 1], 0x0a);
        assert.equal(lastRecordEnd(b.bytes, b.bytes.length), b.bytes.length);
      }
      // The last LF is added where the file lacks it (an empty file has no record to end).
      const whole = bytes.length === 0 || bytes[bytes.length - 1] === 0x0a ? bytes.toString() : `${bytes.toString()}\n`;
      assert.equal(Buffer.concat(blocks.map((b) => b.bytes)).toString(), whole);
      const reread = blocks.flatMap((b) => parse(Buffer.from(b.bytes), { relax_column_count: true }) as string[][]);
      assert.deepEqual(reread, parse(whole, { relax_column_count: true }));
    }),
    fuzzParams(300, 10_000),
  );
});

test('a record longer than a piece grows it; one longer than the limit, or a quote never closed, is refused', () => {
  const long = `${'x'.repeat(5000)}\nshort\n`;
  const cutter = new RecordBlocks(64, 1 << 20, unreadable);
  const blocks = [...cutter.push(Buffer.from(long)), ...cutter.end()];
  assert.equal(Buffer.concat(blocks.map((b) => b.bytes)).toString(), long);
  assert.ok(blocks.some((b) => b.bytes.length > 5000), 'the long record came in one block');

  const limited = new RecordBlocks(64, 1000, unreadable);
  assert.throws(() => limited.push(Buffer.from(long)), { code: 'CSV_VALIDATED_UNREADABLE', message: /record at byte 0 runs past 1000 bytes/ });

  const open = new RecordBlocks(64, 1 << 20, unreadable);
  open.push(Buffer.from('a,b\n1,"never closed\n2,3\n'));
  assert.throws(() => open.end(), { code: 'CSV_VALIDATED_UNREADABLE', message: /record at byte 4 has a quoted value that is never closed/ });
});

test('a block\'s buffer given back is filled again: blocks after it reuse it, and read right over its old bytes', () => {
  const rows = Array.from({ length: 200 }, (_, i) => `${i},"value ${i}, quoted"\n`).join('');
  const cutter = new RecordBlocks(256, 1 << 20, unreadable);
  const blocks = [];
  const given = new Set<ArrayBufferLike>();
  for (let at = 0; at < rows.length; at += 100) {
    for (const b of cutter.push(Buffer.from(rows.slice(at, at + 100)))) {
      // Its reader copies what it keeps (as a thread does) and gives the buffer back.
      blocks.push(Buffer.from(b.bytes).toString());
      given.add(b.bytes.buffer);
      cutter.recycle(b.bytes.buffer as ArrayBuffer);
    }
  }
  blocks.push(...cutter.end().map((b) => Buffer.from(b.bytes).toString()));
  assert.equal(blocks.join(''), rows);
  assert.ok(given.size < blocks.length - 1, `${blocks.length} blocks in ${given.size} buffers`);
});
