import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { test } from 'node:test';
import { BadInputError } from '../../src/contract/errors.js';
import { decodingStages } from '../../src/tasks/csv/read/decode.js';
import { sniffCsv, type CsvDialectOptions, type CsvHead } from '../../src/tasks/csv/read/sniff.js';
import { whitespaceToCsv, WhitespaceToCsv } from '../../src/tasks/csv/read/whitespace.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/csv-dialects/${name}`, import.meta.url));
const head = (bytes: Buffer | string, complete = true): CsvHead => ({ bytes: Buffer.from(bytes), gzip: false, complete });
const sniff = (name: string, options?: CsvDialectOptions) => sniffCsv(head(fixture(name)), options);
const rejectsWith = (code: string, fn: () => unknown, says?: RegExp) =>
  assert.throws(fn, (err: unknown) => err instanceof BadInputError && err.code === code && (!says || says.test(err.message)));

test('dialects: each fixture sniffs to its delimiter, encoding and header', () => {
  const cases: [string, string, string, number, string[]][] = [
    ['whitespace.txt', 'whitespace', 'utf-8', 0, ['id', 'name', 'score', 'city']],
    ['semicolon-decimal-comma.csv', ';', 'utf-8', 0, ['Name', 'Preis', 'Menge']],
    ['tab.tsv', '\t', 'utf-8', 0, ['id', 'name', 'note']],
    ['pipe.psv', '|', 'utf-8', 0, ['id', 'name', 'amount']],
    ['utf8-bom.csv', ',', 'utf-8', 3, ['name', 'city']],
    ['utf16le-bom.csv', ';', 'utf-16le', 2, ['name', 'city']],
    ['utf16be-bom.tsv', '\t', 'utf-16be', 2, ['name', 'city']],
    ['latin1.csv', ',', 'latin-1', 0, ['nom', 'ville']],
    ['quoted.csv', ',', 'utf-8', 0, ['id', 'text', 'n']],
  ];
  for (const [name, delimiter, encoding, bomBytes, header] of cases) {
    const f = sniff(name);
    assert.deepEqual([f.delimiter, f.encoding, f.bomBytes, f.header, f.skipLines], [delimiter, encoding, bomBytes, header, 0], name);
  }
});

test('dialects: ambiguous delimiter, preamble and Windows-1252 fail with a code that says what to set', () => {
  rejectsWith('CSV_DELIMITER_AMBIGUOUS', () => sniff('ambiguous.csv'), /set csv\.delimiter to ',' or ';'/i);
  rejectsWith('CSV_PREAMBLE', () => sniff('preamble.csv'), /Set csv\.skipLines to 1/);
  rejectsWith('CSV_ENCODING_AMBIGUOUS', () => sniff('windows-1252.csv'), /csv\.encoding to 'windows-1252'/);
  // What the messages ask for reads the files.
  assert.deepEqual(sniff('ambiguous.csv', { delimiter: ';' }).header, ['a', 'b,c']);
  assert.deepEqual(sniff('ambiguous.csv', { delimiter: ',' }).header, ['a;b', 'c']);
  const pre = sniff('preamble.csv', { skipLines: 1 });
  assert.deepEqual([pre.delimiter, pre.skipLines, pre.header], [',', 1, ['region', 'units', 'revenue']]);
  assert.deepEqual(sniff('windows-1252.csv', { encoding: 'windows-1252' }).encoding, 'windows-1252');
  assert.equal(sniff('windows-1252.csv', { encoding: 'latin-1' }).encoding, 'latin-1');
});

test('dialects: overrides take the place of sniffing', () => {
  assert.equal(sniffCsv(head('a b\n1 2\n'), { delimiter: ',' }).delimiter, ',');
  assert.deepEqual(sniffCsv(head('a b\n1 2\n'), { delimiter: ',' }).header, ['a b']);
  // UTF-16 without a byte-order mark is binary to the sniffer, text when named.
  const le = Buffer.from('x,y\n1,2\n', 'utf16le');
  rejectsWith('CSV_NOT_TEXT', () => sniffCsv(head(le)));
  assert.deepEqual(sniffCsv(head(le), { encoding: 'utf-16le' }).header, ['x', 'y']);
  // A BOM is skipped when it matches the named encoding.
  assert.equal(sniffCsv(head(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('a,b\n1,2\n')])), { encoding: 'utf-8' }).bomBytes, 3);
  rejectsWith('CSV_LINE_TOO_LONG', () => sniffCsv(head('a,b\n1,2\n', false), { skipLines: 5 }));
});

test('dialects: whitespace is tried only when no one-character delimiter is consistent', () => {
  // One space after every comma: still a comma file.
  assert.equal(sniffCsv(head('a, b\n1, 2\n3, 4\n')).delimiter, ',');
  // Spaces inside values that vary: one column, not whitespace.
  assert.equal(sniffCsv(head('name\nJohn Smith\nAnn Lee Park\n')).delimiter, ',');
  assert.equal(sniffCsv(head('x  y\n1  2\n3\t4\n')).delimiter, 'whitespace');
  // Mostly alike: still whitespace (the odd row is rejected later), not one column.
  assert.equal(sniffCsv(head('x y z\n1 2 3\n4 5\n6 7 8\n')).delimiter, 'whitespace');
  // A more consistent delimiter wins over a less consistent one; equal ones are ambiguous.
  assert.equal(sniffCsv(head('a;b,c\n1;2\n3;4\n')).delimiter, ';');
  rejectsWith('CSV_DELIMITER_AMBIGUOUS', () => sniffCsv(head('a|b\tc\n1|2\t3\n')), /'\|' or '\\t'|'\\t' or '\|'/);
  // Comment lines above the header.
  rejectsWith('CSV_PREAMBLE', () => sniffCsv(head('# exported 2024-01-01\n# by a tool\nid;v\n1;2\n3;4\n')), /skipLines to 2/);
  // Quoted values broken over the first lines are no preamble, though the lines below them split alike.
  const multiline = 'id,text,n\n1,"a\nb\nc",2\n' + '2,x,3\n'.repeat(20);
  assert.deepEqual(sniffCsv(head(multiline)).header, ['id', 'text', 'n']);
  // A one-column file is no preamble.
  assert.deepEqual(sniffCsv(head('name\nAnn\nBob\nCid\n')).header, ['name']);
});

test('whitespace rewriter: runs of blanks become commas; quotes kept; values with , or " quoted; chunking does not matter', () => {
  const input = '  id \t name   note\n1 "New York"  a,b\r\n2  x"y  "say ""hi"""\n\n3 "multi\nline"   z\n';
  const expected = 'id,name,note\n1,"New York","a,b"\r\n2,"x""y","say ""hi"""\n\n3,"multi\nline",z\n';
  assert.equal(whitespaceToCsv(input), expected);
  for (let cut = 1; cut < input.length; cut += 1) {
    const w = new WhitespaceToCsv();
    assert.equal(w.push(input.slice(0, cut)) + w.push(input.slice(cut)) + w.end(), expected, `cut at ${cut}`);
  }
  assert.equal(whitespaceToCsv('a b'), 'a,b');
  assert.equal(whitespaceToCsv('a "b"'), 'a,"b"');
});

test('decoding stages: skipped lines (LF, CR LF, CR), Latin-1 and whitespace, at every chunking', async () => {
  const run = async (input: Buffer, format: Parameters<typeof decodingStages>[0], cut: number) => {
    const stages = decodingStages(format);
    let stream: NodeJS.ReadableStream = Readable.from([input.subarray(0, cut), input.subarray(cut)].filter((b) => b.length > 0));
    for (const stage of stages) stream = stream.pipe(stage);
    return text(stream);
  };
  const base = { gzip: false, encoding: 'utf-8', bomBytes: 0, delimiter: ',', skipLines: 3 } as const;
  const skipped = Buffer.from('# one\r\n# two\r# three\na,b\r\n1,2\n');
  const latin1 = Buffer.from('n  v\nJos\xe9   1\n', 'latin1');
  for (let cut = 0; cut <= skipped.length; cut += 1) assert.equal(await run(skipped, base, cut), 'a,b\r\n1,2\n', `cut at ${cut}`);
  for (let cut = 0; cut <= latin1.length; cut += 1) {
    assert.equal(await run(latin1, { ...base, encoding: 'latin-1', delimiter: 'whitespace', skipLines: 0 }, cut), 'n,v\nJosé,1\n', `cut at ${cut}`);
  }
});
