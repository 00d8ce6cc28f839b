import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { BadInputError } from '../../src/contract/errors.js';
import type { CsvOptions } from '../../src/tasks/csv/options.js';
import { CsvInspectTask } from '../../src/tasks/csv/inspect-task.js';
import { RejectLine, ValidationReport } from '../../src/tasks/csv/reports.js';
import { CsvValidationTask } from '../../src/tasks/csv/validation-task.js';
import { csvJob, csvOptions, runTask, startCsvStack, type CsvStack } from '../helpers/csv-context.js';

/**
 * Validation over each file of test/fixtures/csv-dialects: validated.csv (UTF-8, comma) must hold the rows, columns
 * and values pandas reads (`read_csv(sep=None)`, or `sep='\s+'` for the whitespace table, with the encoding named
 * where pandas needs it); the expected values are written out here.
 */
let stack: CsvStack;
before(async () => {
  stack = await startCsvStack();
});
after(() => stack.stop());

const validation = new CsvValidationTask(csvOptions);
const fixture = (name: string) => readFileSync(new URL(`../fixtures/csv-dialects/${name}`, import.meta.url));

async function validate(key: string, body: Buffer | string, csv: Partial<CsvOptions> = {}) {
  await stack.put(key, body);
  const outputs = await runTask(stack, validation, csvJob(stack, key, csv), 'validation');
  const report = ValidationReport.parse(JSON.parse(await stack.text(outputs['validation.json']!)));
  const rejects = (await stack.text(outputs['rejects.jsonl']!)).split('\n').filter(Boolean).map((l) => RejectLine.parse(JSON.parse(l)));
  return { report, rejects, validated: await stack.text(outputs['validated.csv']!) };
}

async function expectBadInput(promise: Promise<unknown>, code: string, says: RegExp) {
  const err = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BadInputError, `expected BadInputError ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.match(err.message, says);
}

const cases: { file: string; csv?: Partial<CsvOptions>; delimiter: string; encoding: string; validated: string; types: string[] }[] = [
  {
    file: 'whitespace.txt',
    delimiter: 'whitespace',
    encoding: 'utf-8',
    validated: 'id,name,score,city\n1,Alice,3.5,Paris\n2,Bob,12,New York\n3,Chloé,-0.25,Lyon\n4,Dan,7,Oslo\n',
    types: ['integer', 'string', 'number', 'string'],
  },
  {
    file: 'semicolon-decimal-comma.csv',
    delimiter: ';',
    encoding: 'utf-8',
    // pandas keeps '1,50' a string unless told decimal=','; so do we.
    validated: 'Name,Preis,Menge\nÄpfel,"1,50",3\nBirnen,"2,25",10\nKiwi; gold,"0,99",7\n',
    types: ['string', 'string', 'integer'],
  },
  {
    file: 'tab.tsv',
    delimiter: '\t',
    encoding: 'utf-8',
    validated: 'id,name,note\n1,Alice,"has, a comma"\n2,Bob,quoted\ttab\n3,Chloé,\n',
    types: ['integer', 'string', 'string'],
  },
  {
    file: 'pipe.psv',
    delimiter: '|',
    encoding: 'utf-8',
    validated: 'id,name,amount\n1,Alice,10.5\n2,"Bob, Jr.",20\n3,Chloé | Co,30\n',
    types: ['integer', 'string', 'number'],
  },
  { file: 'utf8-bom.csv', delimiter: ',', encoding: 'utf-8', validated: 'name,city\nJosé,São Paulo\nZoë,Zürich\n', types: ['string', 'string'] },
  { file: 'utf16le-bom.csv', delimiter: ';', encoding: 'utf-16le', validated: 'name,city\nJosé,São Paulo\nZoë,Zürich\n', types: ['string', 'string'] },
  { file: 'utf16be-bom.tsv', delimiter: '\t', encoding: 'utf-16be', validated: 'name,city\nJosé,São Paulo\nZoë,Zürich\n', types: ['string', 'string'] },
  {
    file: 'latin1.csv',
    delimiter: ',',
    encoding: 'latin-1',
    validated: 'nom,ville\nFrançois,Besançon\nRenée,Orléans\nJürgen,Köln\n',
    types: ['string', 'string'],
  },
  {
    file: 'windows-1252.csv',
    csv: { encoding: 'windows-1252' },
    delimiter: ',',
    encoding: 'windows-1252',
    validated: 'item,price\ncafé,3 €\nthé,2 €\n',
    types: ['string', 'string'],
  },
  {
    file: 'preamble.csv',
    csv: { skipLines: 1 },
    delimiter: ',',
    encoding: 'utf-8',
    validated: 'region,units,revenue\nNorth,10,99.5\nSouth,7,70\n',
    types: ['string', 'integer', 'number'],
  },
  {
    file: 'quoted.csv',
    delimiter: ',',
    encoding: 'utf-8',
    validated: 'id,text,n\n1,"a, b",2\n2,"she said ""hi""",3\n3,"two\r\nlines",4\n',
    types: ['integer', 'string', 'integer'],
  },
  {
    file: 'ambiguous.csv',
    csv: { delimiter: ';' },
    delimiter: ';',
    encoding: 'utf-8',
    validated: 'a,"b,c"\n1,"2,3"\n4,"5,6"\n',
    types: ['integer', 'string'],
  },
];

for (const c of cases) {
  test(`dialect ${c.file}${c.csv ? ` with ${JSON.stringify(c.csv)}` : ''}: rows, columns and values as pandas reads them`, async () => {
    const { report, rejects, validated } = await validate(`d/${c.file}`, fixture(c.file), c.csv);
    assert.deepEqual(report.format, { gzip: false, encoding: c.encoding, delimiter: c.delimiter });
    assert.deepEqual(rejects, []);
    assert.equal(validated, c.validated);
    assert.equal(report.rowsRead, c.validated.split('\n').length - 2 - (c.file === 'quoted.csv' ? 1 : 0));
    assert.deepEqual(report.schema.fields.map((f) => f.type), c.types);
  });
}

test('dialects refused with a code that says what to set: ambiguous delimiter, preamble, Windows-1252 or Latin-1', async () => {
  const inspect = new CsvInspectTask(csvOptions.schemaLimits);
  for (const [file, code, says] of [
    ['ambiguous.csv', 'CSV_DELIMITER_AMBIGUOUS', /Set csv\.delimiter to ',' or ';'/],
    ['preamble.csv', 'CSV_PREAMBLE', /Set csv\.skipLines to 1/],
    ['windows-1252.csv', 'CSV_ENCODING_AMBIGUOUS', /Set csv\.encoding to 'windows-1252'/],
  ] as const) {
    await stack.put(`r/${file}`, fixture(file));
    await expectBadInput(runTask(stack, inspect, csvJob(stack, `r/${file}`), 'ingestion'), code, says);
    await expectBadInput(runTask(stack, validation, csvJob(stack, `r/${file}`), 'validation'), code, says);
  }
});

test('a gzip whitespace table of several blocks, with a bad row: every row read, line numbers of the file', async () => {
  const lines = ['  n      word     x'];
  for (let i = 1; i <= 120_000; i += 1) lines.push(i === 70_000 ? '70000  two words  1.5' : `${String(i).padStart(6)}  w${i % 97}${' '.repeat(i % 5)}  ${i / 4}`);
  const text = `${lines.join('\n')}\n`;
  const { report, rejects, validated } = await validate('d/big-ws.txt.gz', gzipSync(text));
  assert.deepEqual(report.format, { gzip: true, encoding: 'utf-8', delimiter: 'whitespace' });
  assert.equal(report.rowsRead, 120_000);
  assert.deepEqual(rejects, [{ row: 70_000, column: null, value: '70000,two,words,1.5', error: 'row has 4 fields, the header has 3' }]);
  const out = validated.split('\n');
  assert.equal(out[0], 'n,word,x');
  assert.equal(out[3], '3,w3,0.75');
  assert.equal(out.length, 120_000 + 1);
  assert.deepEqual(report.schema.fields.map((f) => f.type), ['integer', 'string', 'number']);
});

test('skipped preamble lines still count in the line numbers of reasons', async () => {
  const { rejects } = await validate('d/pre-bad.csv', '# title\n# exported\nid,v\n1,2\n2,ba"d\n3,4\n', { skipLines: 2, maxErrorRate: 1 });
  assert.equal(rejects.length, 1);
  assert.equal(rejects[0]!.row, 2);
  assert.match(rejects[0]!.error, /line 5/);
});
