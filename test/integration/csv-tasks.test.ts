import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { AbortedError, BadInputError } from '../../src/contract/errors.js';
import { CsvAnalysisTask } from '../../src/tasks/csv/analysis-task.js';
import { CsvInspectTask } from '../../src/tasks/csv/inspect-task.js';
import { AnalysisReport, RejectLine, ValidationReport } from '../../src/tasks/csv/reports.js';
import { CsvValidationTask } from '../../src/tasks/csv/validation-task.js';
import { csvJob, csvOptions, outputKey, runTask, startCsvStack, type CsvStack } from '../helpers/csv-context.js';
import { describeCategories, describeNumbers, generateSales, salesSchema } from '../helpers/csv-data.js';

let stack: CsvStack;
before(async () => {
  stack = await startCsvStack();
});
after(() => stack.stop());

const validation = new CsvValidationTask(csvOptions);
const analysis = new CsvAnalysisTask(csvOptions.pool);

async function expectBadInput(promise: Promise<unknown>, code: string): Promise<BadInputError> {
  const err = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BadInputError, `expected BadInputError ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.ok(err.message.length > 30, 'the message tells a person what to do');
  return err;
}

function closeTo(actual: number | null | undefined, expected: number, what: string) {
  assert.ok(typeof actual === 'number', `${what} missing`);
  assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

async function validateAndAnalyse(key: string, csv: Parameters<typeof csvJob>[2]) {
  const job = csvJob(stack, key, csv);
  const outputs = await runTask(stack, validation, job, 'validation');
  const report = ValidationReport.parse(JSON.parse(await stack.text(outputs['validation.json']!)));
  const rejects = (await stack.text(outputs['rejects.jsonl']!)).split('\n').filter(Boolean).map((l) => RejectLine.parse(JSON.parse(l)));
  const validated = await stack.text(outputs['validated.csv']!);
  const analysed = await runTask(stack, analysis, { ...job, outputs }, 'analysis');
  const stats = AnalysisReport.parse(JSON.parse(await stack.text(analysed['analysis.json']!)));
  return { job, report, rejects, validated, stats };
}

for (const gzip of [false, true]) {
  test(`schema validation and describe statistics${gzip ? ', gzip input' : ''}`, async () => {
    const data = generateSales(20_000);
    await stack.put(`u/sales-${gzip}.csv${gzip ? '.gz' : ''}`, gzip ? gzipSync(data.text) : data.text);
    const { report, rejects, validated, stats } = await validateAndAnalyse(`u/sales-${gzip}.csv${gzip ? '.gz' : ''}`, { schema: salesSchema as never, maxErrorRate: 0.05 });

    assert.equal(report.rowsRead, data.rows);
    assert.equal(report.rowsRejected, data.rejects.size);
    assert.equal(report.rowsValid, data.rows - data.rejects.size);
    assert.equal(report.format.gzip, gzip);
    assert.equal(report.schemaSource, 'inline');
    assert.deepEqual(new Map(rejects.map((r) => [r.row, r.column])), data.rejects);
    assert.match(rejects.find((r) => r.row === 50)!.error, /row has 7 fields, the header has 6/);
    assert.deepEqual(rejects.find((r) => r.row === 100), { row: 100, column: 'id', value: 'NA', error: 'required value is missing' });
    assert.deepEqual(rejects.find((r) => r.row === 250), { row: 250, column: 'price', value: 'abc', error: 'not a number (column type number)' });

    const lines = validated.split('\n');
    assert.equal(lines[0], 'id,price,qty,active,day,city');
    // Normalised: plain numbers, true/false, ISO dates, missing cells empty.
    assert.match(lines[3]!, /^3,\d+(\.\d+)?,-?\d+,true,2024-04-04,[A-Z][a-z]+$/);
    assert.match(lines[7]!, /^7,[^,]+,,false,2024-08-08,/);

    assert.equal(stats.rows, report.rowsValid);
    const price = stats.columns.find((c) => c.name === 'price')!;
    const qty = stats.columns.find((c) => c.name === 'qty')!;
    const city = stats.columns.find((c) => c.name === 'city')!;
    for (const [column, values] of [[price, data.prices], [qty, data.quantities]] as const) {
      assert.ok('mean' in column);
      const ref = describeNumbers(values);
      assert.equal(column.count, ref.count);
      for (const k of ['mean', 'std', 'min', '25%', '50%', '75%', 'max'] as const) closeTo(column[k], ref[k], `${column.name} ${k}`);
    }
    assert.equal(qty.missing, report.rowsValid - data.quantities.length);
    assert.deepEqual({ ...city }, { name: 'city', type: 'string', missing: 0, ...describeCategories(data.cities) });
  });
}

test('no schema: semicolons in UTF-16 with BOM are transcoded, types inferred over the whole file', async () => {
  const text = 'name;amount;when\nÅsa;1,5;2024-01-02\nBo;2;2024-01-03\nÇa;;2024-01-04\nDu;3e2;x\n';
  // "1,5" is quoted here only by virtue of the semicolon delimiter: not a number, so amount is a string.
  await stack.put('u/utf16.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
  const { report, validated, stats } = await validateAndAnalyse('u/utf16.csv', {});
  assert.equal(report.format.encoding, 'utf-16le');
  assert.equal(report.format.delimiter, ';');
  assert.equal(report.schemaSource, 'inferred');
  assert.deepEqual(report.schema.fields.map((f) => [f.name, f.type]), [['name', 'string'], ['amount', 'string'], ['when', 'string']]);
  assert.equal(validated, 'name,amount,when\nÅsa,"1,5",2024-01-02\nBo,2,2024-01-03\nÇa,,2024-01-04\nDu,3e2,x\n');
  assert.equal(stats.columns[1]!.missing, 1);

  await stack.put('u/inferred.csv', 'n,x,flag,d\n1,1.5,true,2024-02-29\n2,,false,2024-03-01\n-3,2e3,True,2024-03-02\n');
  const inferred = await validateAndAnalyse('u/inferred.csv', {});
  assert.deepEqual(inferred.report.schema.fields.map((f) => f.type), ['integer', 'number', 'boolean', 'date']);
  const x = inferred.stats.columns[1]!;
  assert.ok('mean' in x);
  assert.deepEqual([x.count, x.missing, x.mean, x.min, x.max], [2, 1, 1000.75, 1.5, 2000]);
});

test('over maxErrorRate: the job fails with CSV_ERROR_RATE_EXCEEDED after writing its outputs', async () => {
  await stack.put('u/bad-rate.csv', 'a,b\n1,2\nx,3\n4\n5,6\n');
  const job = csvJob(stack, 'u/bad-rate.csv', { schema: { fields: [{ name: 'a', type: 'integer' }, { name: 'b', type: 'integer' }] }, maxErrorRate: 0.25 });
  await expectBadInput(runTask(stack, validation, job, 'validation'), 'CSV_ERROR_RATE_EXCEEDED');
  const report = ValidationReport.parse(JSON.parse(await stack.text(outputKey(job, 'validation.json'))));
  assert.deepEqual([report.rowsRead, report.rowsRejected, report.errorRate], [4, 2, 0.5]);
  assert.equal((await stack.text(outputKey(job, 'rejects.jsonl'))).trim().split('\n').length, 2);
});

test('schema by S3 key from the input bucket; a missing or broken one is a clear failure', async () => {
  await stack.put('uploads/schemas/ab.json', JSON.stringify({ fields: [{ name: 'a', type: 'integer' }, { name: 'b', type: 'string', constraints: { enum: ['x', 'y'] } }] }));
  await stack.put('u/ab.csv', 'a,b\n1,x\n2,z\n3,y\n');
  const { report, rejects } = await validateAndAnalyse('u/ab.csv', { schemaKey: 'uploads/schemas/ab.json', maxErrorRate: 0.5 });
  assert.equal(report.schemaSource, 's3');
  assert.deepEqual(rejects, [{ row: 2, column: 'b', value: 'z', error: 'not one of x, y' }]);
  await expectBadInput(runTask(stack, validation, csvJob(stack, 'u/ab.csv', { schemaKey: 'uploads/schemas/none.json' }), 'validation'), 'CSV_SCHEMA_NOT_FOUND');
  await stack.put('uploads/schemas/broken.json', '{"fields": []}');
  await expectBadInput(runTask(stack, validation, csvJob(stack, 'u/ab.csv', { schemaKey: 'uploads/schemas/broken.json' }), 'validation'), 'CSV_SCHEMA_INVALID');
  const mismatch = { schema: { fields: [{ name: 'a', type: 'integer' as const }, { name: 'c', type: 'string' as const }] } };
  await expectBadInput(runTask(stack, validation, csvJob(stack, 'u/ab.csv', mismatch), 'validation'), 'CSV_SCHEMA_MISMATCH');
});

const badInputs: [string, () => Buffer | string, string][] = [
  ['binary junk', () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)), 'CSV_NOT_TEXT'],
  ['whitespace only', () => '\n  \n', 'CSV_EMPTY'],
  ['header only', () => 'a,b,c\n', 'CSV_HEADER_ONLY'],
  ['duplicate header names', () => 'id,name,id\n1,x,2\n', 'CSV_DUPLICATE_HEADER'],
  ['Windows-1252 or Latin-1', () => Buffer.from('caf\x80,b\n1,2\n', 'latin1'), 'CSV_ENCODING_AMBIGUOUS'],
  // Past the sniffed head: only the streaming checks can catch these.
  ['a 60 MB line', () => 'a,b\n1,2\n' + 'x'.repeat(60 * 1024 * 1024) + ',3\n', 'CSV_LINE_TOO_LONG'],
  ['NUL bytes after 1 MB of text', () => Buffer.concat([Buffer.from('a,b\n' + '1,2\n'.repeat(300_000)), Buffer.alloc(64)]), 'CSV_NOT_TEXT'],
  ['invalid UTF-8 after 1 MB', () => Buffer.concat([Buffer.from('a,b\n' + '1,2\n'.repeat(300_000)), Buffer.from('caf\xe9,1\n', 'latin1')]), 'CSV_ENCODING_INVALID'],
  ['a gzip bomb', () => gzipSync(Buffer.alloc(128 * 1024 * 1024, 'a,b\n1,2\n')), 'CSV_DECOMPRESSED_TOO_LARGE'],
  ['corrupt gzip', () => Buffer.concat([gzipSync('a,b\n' + '1,2\n'.repeat(100_000)).subarray(0, 2000), Buffer.alloc(3000, 7)]), 'CSV_GZIP_CORRUPT'],
];

for (const [label, make, code] of badInputs) {
  test(`bad input, ${label}: ${code}`, async () => {
    const key = `u/bad-${code}-${label.replace(/\W+/g, '-')}`;
    await stack.put(key, make());
    await expectBadInput(runTask(stack, validation, csvJob(stack, key), 'validation'), code);
  });
}

test('ingestion inspect refuses what it can see in the head, accepts a good file', async () => {
  await stack.put('u/dups.csv', 'a,a\n1,2\n');
  await expectBadInput(runTask(stack, new CsvInspectTask(csvOptions.schemaLimits), csvJob(stack, 'u/dups.csv'), 'ingestion'), 'CSV_DUPLICATE_HEADER');
  await stack.put('u/ok.csv.gz', gzipSync('a\tb\n1\t2\n'));
  assert.deepEqual(await runTask(stack, new CsvInspectTask(csvOptions.schemaLimits), csvJob(stack, 'u/ok.csv.gz'), 'ingestion'), {});
});

test('abort stops validation promptly', async () => {
  await stack.put('u/big.csv', generateSales(400_000).text);
  const controller = new AbortController();
  const started = Date.now();
  setTimeout(() => controller.abort(new Error('shutdown')), 300);
  const err = await runTask(stack, validation, csvJob(stack, 'u/big.csv', { schema: salesSchema as never }), 'validation', controller.signal).catch((e: unknown) => e);
  assert.ok(err instanceof AbortedError || (err as Error).name === 'AbortError', `got ${String(err)}`);
  assert.ok(Date.now() - started < 3000, 'stopped within a few hundred ms of the abort');
});

test('validation reads a CSV that fits its head read from S3 once, and a larger one twice (head, then the stream)', async () => {
  const reads: string[] = [];
  const store = stack.store;
  const counting = Object.create(store) as typeof store;
  counting.getStream = (ref, signal, range) => {
    reads.push(`${ref.key} ${range ?? 'whole'}`);
    return store.getStream(ref, signal, range);
  };
  const counted = { ...stack, store: counting };
  const small = generateSales(200);
  await stack.put('u/small-once.csv', small.text);
  const job = csvJob(stack, 'u/small-once.csv', { schema: salesSchema as never });
  await runTask(counted, validation, job, 'validation');
  assert.equal(reads.filter((r) => r.startsWith('u/small-once.csv')).length, 1, reads.join('\n'));
  // What the one read gave is the whole file: every valid row is in validated.csv.
  const validated = await stack.text(outputKey(job, 'validated.csv'));
  assert.equal(validated.trimEnd().split('\n').length - 1, small.rows - small.rejects.size);

  await stack.put('u/large-twice.csv', generateSales(40_000).text);
  await runTask(counted, validation, csvJob(stack, 'u/large-twice.csv', { schema: salesSchema as never }), 'validation');
  assert.deepEqual(reads.filter((r) => r.startsWith('u/large-twice.csv')).map((r) => r.split(' ')[1]), ['bytes=0-1048576', 'whole']);
});
