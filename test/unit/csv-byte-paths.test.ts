import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { AnalysisPart, transferablesOf } from '../../src/tasks/csv/analyse/analyser.js';
import { unreadable } from '../../src/tasks/csv/read/canonical-reader.js';
import { RecordBlocks } from '../../src/tasks/csv/read/record-cut.js';
import type { AnalysisReport } from '../../src/tasks/csv/reports.js';
import { NumericColumn } from '../../src/tasks/csv/analyse/numeric-column.js';
import type { TableSchema } from '../../src/tasks/csv/options.js';
import { csvLine } from '../../src/tasks/csv/read/csv-text.js';
import type { RecordHandler } from '../../src/tasks/csv/read/record-handler.js';
import { RecordScanner } from '../../src/tasks/csv/read/record-scanner.js';
import { streamRecords } from '../../src/tasks/csv/read/record-stream.js';
import { isIsoDateBytes, isPlainDecimalBytes, isPlainIntegerBytes, plainDecimal } from '../../src/tasks/csv/schema/byte-values.js';
import { converterFor, convertInteger, convertNumber, type FieldType } from '../../src/tasks/csv/schema/field-types.js';
import { compileSchema } from '../../src/tasks/csv/schema/schema.js';
import { OutputText, RowValidator } from '../../src/tasks/csv/validate/validator.js';
import { fuzzParams } from '../helpers/fuzz.js';

// The byte paths (cells judged and values read without decoding them) against the string paths they
// stand in for, which the older tests hold to csv-parse and to String(Number(raw)).

const bytesOf = (s: string) => Buffer.from(s, 'utf8');
const numberish = fc.oneof(
  fc.stringMatching(/^-?[0-9]{0,18}(\.[0-9]{0,8})?$/),
  fc.double({ noNaN: true }).map(String),
  fc.integer().map(String),
  fc.constantFrom('', '-', '.', '-.', '0', '-0', '00', '0.0', '1.', '.5', '+1', '1e5', '0.000001', '0.0000001', '123456789012345', '1234567890123456', '9007199254740993', '1.50', ' 1', '1,5', '１'),
);

test('numbers from bytes: plainDecimal is Number(raw) where it answers; the plain-form tests imply the converters keep the text', () => {
  fc.assert(
    fc.property(numberish, (raw) => {
      const b = bytesOf(raw);
      const value = plainDecimal(b, 0, b.length);
      if (value !== undefined) assert.ok(Object.is(value, Number(raw)), `${raw}: ${value} vs ${Number(raw)}`);
      if (isPlainIntegerBytes(b, 0, b.length)) assert.equal(convertInteger(raw), raw);
      if (isPlainDecimalBytes(b, 0, b.length)) assert.equal(convertNumber(raw), raw);
    }),
    fuzzParams(20_000, 5_000),
  );
  // The common forms take the byte path at all.
  for (const raw of ['0', '-12', '12.5', '0.05', '999.99']) {
    assert.ok(isPlainDecimalBytes(bytesOf(raw), 0, raw.length) && plainDecimal(bytesOf(raw), 0, raw.length) !== undefined, raw);
  }
});

test('ISO dates from bytes: accepted exactly when the date type keeps the text as it is', () => {
  const date = converterFor({ name: 'd', type: 'date' }, 'd');
  const dateish = fc.oneof(
    fc.tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 })).map(([y, m, d]) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`),
    fc.stringMatching(/^[0-9-]{8,11}$/),
    fc.constantFrom('2024-02-29', '2023-02-29', '1900-02-29', '2000-02-29', '0099-02-29', '2024-1-01', '2024-01-01T00:00', '２０２４-01-01'),
  );
  fc.assert(
    fc.property(dateish, (raw) => {
      const b = bytesOf(raw);
      assert.equal(isIsoDateBytes(b, 0, b.length), date(raw) === raw, raw);
    }),
    fuzzParams(20_000, 5_000),
  );
});

/** Cells of every type's corners, some quoted (as a record holds them) and some needing quotes. */
const cellText = fc.oneof(
  numberish,
  fc.constantFrom('true', 'false', 'TRUE', '1', '0', 'yes', 'no', '', 'NA', '-', '2024-02-29', '2023-02-29', '2024-13-01', '2024-01-01T10:00:00Z', '01/02/2024', 'é', 'a,b', 'say "hi"', 'two\nlines'),
  fc.string({ maxLength: 5 }),
);
const fieldType = fc.constantFrom<FieldType>('string', 'integer', 'number', 'boolean', 'date', 'datetime');
const schemaField = (name: string) =>
  fc.tuple(fieldType, fc.constantFrom('default', '%d/%m/%Y')).chain(([type, dateFormat]) =>
    fc.record(
      {
        name: fc.constant(name),
        type: fc.constant(type),
        format: fc.constant(type === 'date' ? dateFormat : undefined),
        constraints: fc.record(
          {
            required: fc.boolean(),
            minimum: type === 'integer' ? fc.constantFrom(0, -5, '100') : type === 'number' ? fc.constantFrom(0, '1.5', -0.25) : fc.constantFrom(undefined),
            maximum: type === 'integer' ? fc.constantFrom(10, '1000') : type === 'number' ? fc.constantFrom('99.5', 1e3) : type === 'date' ? fc.constant(dateFormat === 'default' ? '2024-06-30' : '30/06/2024') : fc.constantFrom(undefined),
            enum: type === 'string' ? fc.constant(['a', 'é', 'a,b']) : fc.constantFrom(undefined),
            pattern: type === 'string' ? fc.constant('[a-z]*') : fc.constantFrom(undefined),
          },
          { requiredKeys: [] },
        ),
        trueValues: type === 'boolean' ? fc.constantFrom(undefined, ['yes', 'true'], ['false']) : fc.constant(undefined),
      },
      { requiredKeys: ['name', 'type', 'format'] },
    ),
  );
const tableSchema = fc.integer({ min: 1, max: 4 }).chain((width) =>
  fc.record({
    fields: fc.tuple(...Array.from({ length: width }, (_, i) => schemaField(`c${i}`))),
    missingValues: fc.constantFrom(undefined, [''], ['', 'NA'], ['-']),
  }),
) as fc.Arbitrary<TableSchema>;

test('checkBytes agrees with check: every cell it keeps is kept by check, every change it makes is check\'s', () => {
  let judged = 0;
  fc.assert(
    fc.property(tableSchema, fc.array(cellText, { minLength: 4, maxLength: 4 }), (schema, texts) => {
      const header = schema.fields.map((f) => f.name);
      const compiled = compileSchema(schema, header);
      const cells = texts.slice(0, header.length);
      const record = bytesOf(csvLine(cells));
      const scanner = new RecordScanner(',', '\n', 1 << 20);
      assert.ok(scanner.scan(record, 0) > 0);
      const changes: (string | null | undefined)[] = [];
      const changed = compiled.checkBytes!(scanner, changes);
      if (changed < 0) return;
      judged += 1;
      const expected = compiled.check(cells);
      assert.ok(Array.isArray(expected), `valid by bytes, not by check: ${JSON.stringify({ schema, cells, expected })}`);
      let count = 0;
      cells.forEach((raw, i) => {
        const change = changes[i];
        if (change === undefined) assert.ok(expected[i] === raw || (expected[i] === null && raw === ''), `${raw} kept, check gives ${expected[i]}`);
        else {
          count += 1;
          assert.equal(change, expected[i]);
        }
      });
      assert.equal(changed, count);
    }),
    fuzzParams(20_000, 8_000),
  );
  assert.ok(judged > 100, `the byte path judged ${judged} rows`);
});

/** Messy text for a validator: good rows, normalisable and invalid values, wrong widths, quoting of all kinds. */
function messyRows(seed: number, delimiter: string, ending: string, width: number): string {
  let s = seed >>> 0 || 1;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const values = ['1', '-7', '12.5', '12.50', '007', '', 'NA', 'true', 'FALSE', '2024-02-29', '2023-02-29', 'x', 'é', '"q"', `a${delimiter}b`, 'two\nlines', 'bad"quote', '"closed"after', '1e3', 'x\ry', '3,14', 'plain', '42'];
  const cell = () => {
    const v = pick(values);
    if (v.startsWith('"') || v.includes('bad"')) return v;
    return v.includes(delimiter) || v.includes('\n') || rnd() < 0.1 ? `"${v.replaceAll('"', '""')}"` : v;
  };
  const lines = [Array.from({ length: width }, (_, i) => `c${i}`).join(delimiter)];
  for (let i = 0; i < 60; i += 1) {
    const n = rnd() < 0.9 ? width : 1 + Math.floor(rnd() * (width + 1));
    lines.push(Array.from({ length: n }, cell).join(delimiter));
  }
  return lines.join(ending) + ending;
}

/** Records the fields shortcut took, per delimiter: the property below must exercise it for each. */
const fromBytes = new Map<string, number>();

/** Validates `text` in one block; without the fields shortcut when `slow`, as a handler that only takes cells. */
async function validateText(text: string, schema: TableSchema | undefined, delimiter: string, slow: boolean) {
  const header = parse(text, { delimiter, to_line: 1, relax_quotes: true })[0] as string[];
  const validator = new RowValidator(header, schema, delimiter);
  const out = { validated: new OutputText(), rejects: new OutputText() };
  const { handler, counts } = validator.block({ firstRow: 0, withHeader: true }, out);
  const counted: RecordHandler = {
    ...handler,
    fields: (record) => {
      const taken = handler.fields!(record);
      if (taken) fromBytes.set(delimiter, (fromBytes.get(delimiter) ?? 0) + 1);
      return taken;
    },
  };
  const used: RecordHandler = slow ? { record: handler.record, skipped: handler.skipped } : counted;
  await streamRecords(Readable.from([Buffer.from(text)]), [], delimiter, used);
  return { validated: out.validated.take(), rejects: out.rejects.take(), counts, inferred: RowValidator.applied(header, schema, [validator.inferenceStates()]) };
}

test('validation from the bytes writes exactly what validation from the cells writes', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat(), fc.constantFrom(',', ';', '\t', '|'), fc.constantFrom('\n', '\r\n'), fc.option(tableSchema, { nil: undefined }), async (seed, delimiter, ending, schema) => {
      const width = schema?.fields.length ?? 3;
      const text = messyRows(seed, delimiter, ending, width);
      const header = Array.from({ length: width }, (_, i) => `c${i}`);
      if (schema && schema.fields.some((f, i) => f.name !== header[i])) return;
      assert.deepEqual(await validateText(text, schema, delimiter, false), await validateText(text, schema, delimiter, true));
    }),
    fuzzParams(400, 10_000),
  );
  for (const delimiter of [',', ';', '\t', '|']) assert.ok((fromBytes.get(delimiter) ?? 0) > 0, `no ${JSON.stringify(delimiter)} record took the byte path`);
});

/**
 * Analysis as the threads run it, on this thread: the text in `chunks`, cut into blocks of whole records
 * of about `pieceBytes`, dealt to `parts` parts in turn; the others' partials cloned (as posting them
 * does) and merged by part 0.
 */
function analyseInParts(chunks: Buffer[], fields: { name: string; type: FieldType }[], dir: string, pieceBytes: number, parts: number): AnalysisReport {
  const cutter = new RecordBlocks(pieceBytes, 1 << 20, unreadable);
  const blocks = [...chunks.flatMap((c) => cutter.push(c)), ...cutter.end()];
  const all = Array.from({ length: parts }, (_, k) => new AnalysisPart(fields, dir, k, parts));
  blocks.forEach((b, i) => all[i % parts]!.block(Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength), i, b.offset));
  const partials = all.slice(1).map((p) => {
    const partial = p.partial();
    return structuredClone(partial, { transfer: transferablesOf(partial) });
  });
  return all[0]!.report(partials);
}

const analysisFields: { name: string; type: FieldType }[] = [
  { name: 'n', type: 'number' },
  { name: 'm', type: 'string' },
  { name: 'c', type: 'string' },
];
const analysisValue = fc.oneof(numberish, fc.constantFrom('', 'a', 'a,b', 'say "hi"', 'two\nlines', 'é', '𝄞'));
const analysisRows = fc.array(fc.tuple(analysisValue, analysisValue, fc.constantFrom('x', 'y', 'x,y', '"', '')), { minLength: 1, maxLength: 40 });
/** Equal, or both finite and within 1e-12 of each other relative to their size (NaN equals NaN). */
const close = (a: number | null, b: number | null) => Object.is(a, b) || (a !== null && b !== null && Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b)));
const chunksOf = (bytes: Buffer, size: number) => {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
};

test('analysis from the bytes: the statistics of the cells as csv-parse reads them, whatever the chunking and the blocks', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'csv-byte-analysis-'));
  try {
    await fc.assert(
      fc.asyncProperty(analysisRows, fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 200 }), fc.boolean(), async (rows, chunk, piece, finalLf) => {
        const text = csvLine(['n', 'm', 'c']) + rows.map((r) => csvLine(r)).join('');
        // validated.csv ends with an LF; a file without it is read as if it had one.
        const bytes = Buffer.from(finalLf ? text : text.slice(0, -1));
        const report = analyseInParts(chunksOf(bytes, chunk), analysisFields, dir, piece, 1);
        // The reference: csv-parse's cells, Number() of each, tallies in a Map.
        const cells = (parse(text) as string[][]).slice(1);
        const numeric = new NumericColumn(join(dir, 'ref.f64'));
        for (const [n] of cells) if (n !== '') numeric.add(Number(n));
        const s = numeric.finish();
        const n0 = report.columns[0]!;
        // The reference sums all values as one block; analysis sums each block and merges: equal up to rounding.
        assert.ok('mean' in n0 && close(n0.mean, s.mean) && close(n0.std, s.std), `mean/std ${JSON.stringify(n0)} vs ${JSON.stringify(s)}`);
        assert.deepEqual({ ...n0, mean: 0, std: 0 }, { name: 'n', type: 'number', count: s.count, missing: cells.filter((r) => r[0] === '').length, mean: 0, std: 0, min: s.min, '25%': s.q25, '50%': s.q50, '75%': s.q75, max: s.max });
        for (const i of [1, 2]) {
          const tally = new Map<string, number>();
          for (const r of cells) if (r[i] !== '') tally.set(r[i]!, (tally.get(r[i]!) ?? 0) + 1);
          let top: string | null = null;
          let freq: number | null = null;
          for (const [v, c] of tally) if (freq === null || c > freq) [top, freq] = [v, c];
          const count = cells.filter((r) => r[i] !== '').length;
          assert.deepEqual(report.columns[i], { name: report.columns[i]!.name, type: 'string', count, missing: cells.length - count, unique: tally.size, top, freq });
        }
        assert.equal(report.rows, cells.length);
      }),
      fuzzParams(300, 8_000),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('analysis shared among threads reports exactly what one thread reports: rows dealt in blocks, partials merged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'csv-parts-analysis-'));
  try {
    let shared = 0;
    // Validation writes finite numbers only (it rejects NaN and infinities) and -0 as 0 (String(-0)), so the
    // number column holds those.
    const finite = numberish.filter((v) => v === '' || (Number.isFinite(Number(v)) && !Object.is(Number(v), -0)));
    const rowsOfNumbers = fc.array(fc.tuple(finite, analysisValue, fc.constantFrom('x', 'y', 'x,y', '"', '')), { minLength: 1, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(rowsOfNumbers, fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 120 }), fc.integer({ min: 2, max: 3 }), async (rows, chunk, piece, parts) => {
        const bytes = Buffer.from(csvLine(['n', 'm', 'c']) + rows.map((r) => csvLine(r)).join(''));
        const one = analyseInParts(chunksOf(bytes, chunk), analysisFields, join(dir, 'one'), piece, 1);
        const many = analyseInParts(chunksOf(bytes, chunk), analysisFields, join(dir, 'many'), piece, parts);
        if (Math.ceil(bytes.length / piece) > 2) shared += 1;
        // Every statistic to the last bit: means and stds are merged from per-block sums in block order.
        assert.deepEqual(many, one);
      }),
      fuzzParams(300, 8_000),
    );
    assert.ok(shared > 0, 'no case dealt rows to more than one part');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('delimiting only (the reader) finds the records, skips and lines that splitting finds', async () => {
  const events = async (text: string, delimiter: string, cellsOfFirstOnly: boolean, chunk: number) => {
    const bytes = Buffer.from(text);
    const parts: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += chunk) {
      let end = Math.min(bytes.length, at + chunk);
      while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end += 1;
      parts.push(bytes.subarray(at, end));
      at = end - chunk;
    }
    const seen: string[] = [];
    await streamRecords(Readable.from(parts), [], delimiter, { record: () => seen.push('record'), skipped: (m) => seen.push(m) }, { cellsOfFirstOnly });
    return seen;
  };
  await fc.assert(
    fc.asyncProperty(fc.nat(), fc.constantFrom(',', ';', '\t', '|'), fc.constantFrom('\n', '\r\n'), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 3, max: 400 }), async (seed, delimiter, ending, width, chunk) => {
      const text = messyRows(seed, delimiter, ending, width) + (seed % 7 === 0 ? `a\r"b"${ending}"x""y"z${ending}` : '');
      assert.deepEqual(await events(text, delimiter, true, chunk), await events(text, delimiter, false, chunk));
    }),
    fuzzParams(400, 8_000),
  );
});
