import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadInputError } from '../../src/contract/errors.js';
import { sniffCsv, type CsvHead } from '../../src/tasks/csv/read/sniff.js';

const head = (bytes: Buffer | string, complete = true): CsvHead => ({ bytes: Buffer.from(bytes), gzip: false, complete });
const rejectsWith = (code: string, h: CsvHead) =>
  assert.throws(() => sniffCsv(h), (err: unknown) => err instanceof BadInputError && err.code === code && err.message.length > 20);

test('sniff: delimiters comma, semicolon, tab, pipe; quotes hide delimiters', () => {
  assert.equal(sniffCsv(head('a,b\n1,2\n')).delimiter, ',');
  assert.equal(sniffCsv(head('a;b;c\n"1,5";2;3\n')).delimiter, ';');
  assert.equal(sniffCsv(head('a\tb\n1\t2\n')).delimiter, '\t');
  assert.equal(sniffCsv(head('a|b\n1|2\n')).delimiter, '|');
  assert.deepEqual(sniffCsv(head('"x,y";z\n1;2\n')).header, ['x,y', 'z']);
});

test('sniff: UTF-8 with BOM, UTF-16 LE and BE with BOM', () => {
  const utf8 = sniffCsv(head(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('é,b\n1,2\n')])));
  assert.deepEqual([utf8.encoding, utf8.bomBytes, utf8.header], ['utf-8', 3, ['é', 'b']]);
  const le = sniffCsv(head(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('ä;b\n1;2\n', 'utf16le')])));
  assert.deepEqual([le.encoding, le.delimiter, le.header], ['utf-16le', ';', ['ä', 'b']]);
  const be = Buffer.from('a,b\n1,2\n', 'utf16le').swap16();
  assert.equal(sniffCsv(head(Buffer.concat([Buffer.from([0xfe, 0xff]), be]))).encoding, 'utf-16be');
});

test('sniff: a multi-byte character cut at the end of an incomplete head is not an encoding error', () => {
  const bytes = Buffer.from('a,b\n1,2\n3,€');
  assert.equal(sniffCsv(head(bytes.subarray(0, bytes.length - 2), false)).encoding, 'utf-8');
});

test('sniff: bad inputs fail with a code', () => {
  rejectsWith('CSV_NOT_TEXT', head(Buffer.from([0x50, 0x4b, 3, 4, 0, 0, 1, 2, 3])));
  rejectsWith('CSV_NOT_TEXT', head(Buffer.from('a,b\n1,2\n', 'utf16le')));
  rejectsWith('CSV_ENCODING_AMBIGUOUS', head(Buffer.from('caf\x80,b\n1,2\n', 'latin1')));
  rejectsWith('CSV_EMPTY', head(' \n\n'));
  rejectsWith('CSV_EMPTY', head(Buffer.from([0xef, 0xbb, 0xbf])));
  rejectsWith('CSV_HEADER_ONLY', head('a,b,c\n'));
  rejectsWith('CSV_HEADER_ONLY', head('a,b,c'));
  rejectsWith('CSV_DUPLICATE_HEADER', head('id,name,id\n1,2,3\n'));
  rejectsWith('CSV_HEADER_BLANK', head('id,,x\n1,2,3\n'));
  rejectsWith('CSV_LINE_TOO_LONG', head('x'.repeat(2000), false));
});
