/**
 * The input every CSV bench reads (bench/csv.ts and its peers, bench/csv-e2e.ts through the worker): one
 * generator and one inline schema, so that figures from the two benches are about the same bytes.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export const benchSchema = {
  fields: [
    { name: 'id', type: 'integer', constraints: { required: true } },
    { name: 'name', type: 'string' },
    { name: 'price', type: 'number', constraints: { minimum: 0 } },
    { name: 'qty', type: 'integer' },
    { name: 'active', type: 'boolean' },
    { name: 'day', type: 'date' },
    { name: 'city', type: 'string' },
    { name: 'note', type: 'string' },
  ],
};

/** About 74 bytes a row; every 100th row broken: a bad number, a missing field, an extra one, a stray quote. */
export async function generateBenchCsv(path: string, mb: number): Promise<void> {
  const out = createWriteStream(path);
  out.write('id,name,price,qty,active,day,city,note\n');
  const names = ['alice', 'bob', 'carol', 'dave', 'eve', 'frank'];
  let bytes = 0;
  let row = 0;
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  while (bytes < mb * 1e6) {
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i += 1) {
      row += 1;
      const cells = [String(row), names[row % 6]!, (rnd() * 1000).toFixed(2), String(Math.floor(rnd() * 500)), row % 2 ? 'true' : 'false', `2024-${String(1 + (row % 12)).padStart(2, '0')}-${String(1 + (row % 28)).padStart(2, '0')}`, `city-${Math.floor(rnd() * 5000)}`, `"note ${row % 97}, with a comma"`];
      if (row % 100 === 0) {
        const kind = (row / 100) % 4;
        if (kind === 0) cells[2] = 'n/a';
        else if (kind === 1) cells.pop();
        else if (kind === 2) cells.push('extra');
        else cells[1] = 'bad"quote';
      }
      lines.push(cells.join(','));
    }
    const chunk = lines.join('\n') + '\n';
    bytes += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
