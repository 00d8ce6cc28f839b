import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import type { TableSchema } from '../../src/tasks/csv/options.js';
import { validateInThreads } from '../../src/tasks/csv/validate/parallel-validation.js';
import { streamRecords } from '../../src/tasks/csv/read/record-stream.js';
import { sniffCsv } from '../../src/tasks/csv/read/sniff.js';
import { OutputText, RowValidator } from '../../src/tasks/csv/validate/validator.js';
import { csvOptions } from '../helpers/csv-context.js';

const schema: TableSchema = {
  fields: [
    { name: 'id', type: 'integer' },
    { name: 'price', type: 'number' },
    { name: 'day', type: 'date' },
    { name: 'note', type: 'string' },
  ],
};

/** Several megabytes of rows with every kind of trouble, some of it spanning lines (so block cuts must respect it). */
function messyFile(rows: number, ending: string): string {
  let s = 5;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const lines = ['id,price,day,note'];
  for (let i = 1; i <= rows; i += 1) {
    const r = rnd();
    const note = r < 0.05 ? `"two${ending}lines, ""quoted"""` : r < 0.1 ? `"with, comma"` : `note ${i}`;
    let line = `${i},${(rnd() * 1000).toFixed(2)},2024-0${1 + (i % 9)}-1${i % 10},${note}`;
    const defect = rnd();
    if (defect < 0.01) line = `${i},n/a,2024-01-01,x`;
    else if (defect < 0.02) line = `${i},1.5`;
    else if (defect < 0.03) line = `${i},bad"quote,2024-01-01,"ok"`;
    else if (defect < 0.035) line = `${i},"closed"then,2024-01-01,x${ending}${i},2.5,2024-01-01,"a"`;
    else if (defect < 0.04) line = `${i},1.00,2024-02-30,x`;
    else if (defect < 0.045) line = '';
    lines.push(line);
  }
  return lines.join(ending) + ending;
}

/** The same validation in one pass over the whole file, in this thread: the reference. */
async function onePass(text: string, tableSchema: TableSchema | undefined) {
  const header = text.slice(0, text.search(/[\r\n]/)).split(',');
  const validator = new RowValidator(header, tableSchema, ',');
  const out = { validated: new OutputText(), rejects: new OutputText() };
  const { handler, counts } = validator.block({ firstRow: 0, withHeader: true }, out);
  await streamRecords(Readable.from([Buffer.from(text)]), [], ',', handler);
  return { validated: out.validated.take(), rejects: out.rejects.take(), counts, schema: RowValidator.applied(header, tableSchema, [validator.inferenceStates()]) };
}

async function inThreads(text: string, tableSchema: TableSchema | undefined, chunkBytes = 65536) {
  const bytes = Buffer.from(text);
  const format = sniffCsv({ bytes: bytes.subarray(0, 1024 * 1024), gzip: false, complete: bytes.length <= 1024 * 1024 });
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunkBytes) chunks.push(bytes.subarray(at, at + chunkBytes));
  const collect = (stream: PassThrough) => {
    const parts: Buffer[] = [];
    stream.on('data', (b: Buffer) => parts.push(b));
    return () => Buffer.concat(parts).toString('utf8');
  };
  const validated = new PassThrough();
  const rejects = new PassThrough();
  const [v, r] = [collect(validated), collect(rejects)];
  const counts = await validateInThreads(format, tableSchema, Readable.from(chunks), { 'validated.csv': validated, 'rejects.jsonl': rejects }, new AbortController().signal, csvOptions.pool);
  return { validated: v(), rejects: r(), counts };
}

// CR alone: csv-parse reads the whole file, and blocks are cut at the ends of the records it reads.
for (const ending of ['\n', '\r\n', '\r']) {
  test(`validation across threads writes byte for byte what one pass writes (${JSON.stringify(ending)})`, async () => {
    const text = messyFile(ending === '\r' ? 40_000 : 120_000, ending);
    assert.ok(text.length > 1.3 * 1024 * 1024, 'the file spans several blocks');
    // Small chunks make broken stretches cross chunk boundaries; large ones are the usual case.
    for (const [tableSchema, chunkBytes] of [[schema, 4096], [undefined, 65536]] as const) {
      const [expected, actual] = [await onePass(text, tableSchema), await inThreads(text, tableSchema, chunkBytes)];
      assert.ok(expected.counts.rowsRejected > 300 && expected.counts.rowsValid > 30_000, JSON.stringify(expected.counts));
      assert.equal(actual.validated, expected.validated);
      assert.equal(actual.rejects, expected.rejects);
      assert.deepEqual(actual.counts, { ...expected.counts, schema: expected.schema });
    }
  });
}

test('megabytes of records csv-parse cannot read, without one good record: CSV_MALFORMED, not unbounded memory', async () => {
  // Each line is one record csv-parse skips (text after a closing quote, then a quote that closes): no record boundary is reported.
  const broken = `x,"${'a'.repeat(1000)}"b"\n`.repeat(9000);
  await assert.rejects(inThreads(`h1,h2\n1,2\n${broken}3,4\n`, undefined), { code: 'CSV_MALFORMED', message: /From line 3 on, 8 MiB/ });
});
