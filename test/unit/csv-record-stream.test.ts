import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { CsvError } from 'csv-parse';
import { parse } from 'csv-parse/sync';
import { describeSkip } from '../../src/tasks/csv/read/csv-parse-stretch.js';
import { streamRecords } from '../../src/tasks/csv/read/record-stream.js';
import { csvLimits } from '../../src/tasks/csv/read/limits.js';

type Event = string[] | string;

/** What csv-parse alone reads from the whole text, with the options validation has always used. */
function reference(text: string, delimiter: string): Event[] {
  const events: Event[] = [];
  parse(Buffer.from(text), {
    delimiter,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    max_record_size: csvLimits.maxRecordChars,
    on_record: (cells: string[]) => {
      events.push(cells);
      return null;
    },
    on_skip: (err: CsvError | undefined) => {
      events.push(describeSkip(err!, err!.lines as number));
    },
  });
  return events;
}

async function hybrid(text: string, delimiter: string, chunks: number[]): Promise<Event[]> {
  const bytes = Buffer.from(text);
  const parts: Buffer[] = [];
  // Cut between whole characters, as the decoding stages do.
  for (let at = 0, i = 0; at < bytes.length; i += 1) {
    let end = Math.min(bytes.length, at + (chunks[i % chunks.length] ?? 1));
    while (end < bytes.length && ((bytes[end] ?? 0) & 0xc0) === 0x80) end += 1;
    parts.push(bytes.subarray(at, end));
    at = end;
  }
  const events: Event[] = [];
  await streamRecords(Readable.from(parts), [], delimiter, {
    record: (cells) => events.push(cells),
    skipped: (message) => events.push(message),
  });
  return events;
}

/** A seeded generator of messy CSV: good records, quoted values with doubled quotes and line breaks, stray quotes, CR, LF, CRLF. */
function messyCsv(seed: number, delimiter: string, records: number): string {
  let s = seed >>> 0 || 1;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const ending = pick(['\n', '\r\n', '\n', '\r\n', '\r']);
  const word = () => pick(['a', 'bb', 'é', 'x y', '', '12', '𝄞']);
  const cell = () => {
    const r = rnd();
    if (r < 0.55) return word();
    if (r < 0.75) return `"${word()}${pick([delimiter, '""', '\n', '\r\n', ' '])}${word()}"`;
    if (r < 0.8) return `${word()}"${word()}`; // stray quote
    if (r < 0.85) return `"${word()}"${word()}`; // text after a closing quote
    if (r < 0.9) return `${word()}\r${word()}`;
    if (r < 0.93) return '""';
    return `${word()}\n${word()}`;
  };
  let text = '';
  for (let i = 0; i < records; i += 1) {
    const n = 1 + Math.floor(rnd() * 4);
    const cells = Array.from({ length: n }, cell);
    text += cells.join(delimiter) + (rnd() < 0.05 ? '' : rnd() < 0.9 ? ending : pick(['\n', '\r\n', '\r']));
    if (rnd() < 0.05) text += ending; // an empty line
  }
  if (rnd() < 0.1) text += '"never closed';
  return text;
}

test('the fast path with csv-parse for irregular records reads exactly what csv-parse alone reads', async () => {
  let records = 0;
  let skips = 0;
  for (let seed = 1; seed <= 400; seed += 1) {
    const delimiter = [',', ';', '\t', '|'][seed % 4]!;
    const text = messyCsv(seed, delimiter, 1 + (seed % 40));
    const expected = reference(text, delimiter);
    for (const event of expected) typeof event === 'string' ? (skips += 1) : (records += 1);
    for (const chunks of [[1], [3, 7], [64], [text.length || 1]]) {
      assert.deepEqual(await hybrid(text, delimiter, chunks), expected, `seed ${seed}, chunks ${chunks.join('/')}: ${JSON.stringify(text)}`);
    }
  }
  // The generator must exercise both paths: plenty of good records and of csv-parse's skips.
  assert.ok(records > 2000 && skips > 500, `${records} records, ${skips} skips`);
});

test('well-formed files in LF and CRLF, quoted header, last record without a line break', async () => {
  for (const ending of ['\n', '\r\n']) {
    const text = ['"id","note"', '1,"a, b"', '2,"say ""hi"""', '3,"two' + ending + 'lines"', '', '4,plain'].join(ending);
    assert.deepEqual(await hybrid(text, ',', [5]), reference(text, ','));
    assert.deepEqual(await hybrid(text, ',', [5]), [['id', 'note'], ['1', 'a, b'], ['2', 'say "hi"'], ['3', `two${ending}lines`], ['4', 'plain']]);
  }
});

test('a long run of unreadable records spanning many chunks, then good ones: still exact', async () => {
  const broken = 'a"b,c\n'.repeat(3000);
  const text = `h1,h2\n1,2\n${broken}3,"x, y"\n4,5\n`;
  const events = await hybrid(text, ',', [1000]);
  assert.deepEqual(events, reference(text, ','));
  assert.deepEqual(events.at(-2), ['3', 'x, y']);
});

test('a record past the size bound fails the job with CSV_LINE_TOO_LONG and its line', async () => {
  const text = `h1,h2\n1,2\n3,${'x'.repeat(csvLimits.maxRecordChars + 10)}\n`;
  await assert.rejects(hybrid(text, ',', [65536]), { code: 'CSV_LINE_TOO_LONG', message: /near line 3/ });
  await assert.rejects(hybrid(`h\n"${'x'.repeat(csvLimits.maxRecordChars + 10)}`, ',', [65536]), { code: 'CSV_LINE_TOO_LONG', message: /near line 2/ });
});
