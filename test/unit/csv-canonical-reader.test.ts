import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { CanonicalCsvReader } from '../helpers/canonical-cells.js';
import { csvLine } from '../../src/tasks/csv/read/csv-text.js';

const readAll = (text: string, chunk: number): string[][] => {
  const records: string[][] = [];
  const reader = new CanonicalCsvReader((cells) => records.push(cells));
  for (let i = 0; i < text.length; i += chunk) reader.push(text.slice(i, i + chunk));
  reader.end();
  return records;
};

test('canonical reader reads what csvLine writes, as csv-parse does, whatever the chunking', () => {
  const rows = [
    ['id', 'note', 'x'],
    ['1', 'plain', ''],
    ['2', 'with, comma', 'a "quoted" word'],
    ['3', 'two\nlines\r\nand CR', '""'],
    ['', '', ''],
    ['4', '"', 'é ü 𝄞'],
  ];
  const text = rows.map((r) => csvLine(r)).join('');
  assert.deepEqual(parse(text, { relax_column_count: true }), rows);
  for (const chunk of [1, 2, 3, 7, 64, text.length]) assert.deepEqual(readAll(text, chunk), rows, `chunk ${chunk}`);
});

test('canonical reader takes a last record without line break, refuses what validation never writes', () => {
  assert.deepEqual(readAll('a,b\n1,"x"', 4), [['a', 'b'], ['1', 'x']]);
  assert.throws(() => readAll('a,b\n1,x"y\n', 100), { code: 'CSV_VALIDATED_UNREADABLE' });
  assert.throws(() => readAll('a,b\n1,"x"y\n', 100), { code: 'CSV_VALIDATED_UNREADABLE' });
  assert.throws(() => readAll('a,b\n1,"never closed\n', 100), { code: 'CSV_VALIDATED_UNREADABLE' });
});
