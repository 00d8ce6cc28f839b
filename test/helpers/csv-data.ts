/** Deterministic generated CSV for the CSV tests, with the values the statistics must come from. */
export interface GeneratedCsv {
  text: string;
  /** Valid rows' values by column, as validation should keep them. */
  prices: number[];
  quantities: number[];
  cities: string[];
  /** 1-based data row numbers that must be rejected, with the column at fault (null: structure). */
  rejects: Map<number, string | null>;
  rows: number;
}

export const salesSchema = {
  fields: [
    { name: 'id', type: 'integer', constraints: { required: true, unique: true } },
    { name: 'price', type: 'number', constraints: { minimum: 0 } },
    { name: 'qty', type: 'integer' },
    { name: 'active', type: 'boolean' },
    { name: 'day', type: 'date', format: '%d/%m/%Y' },
    { name: 'city', type: 'string', constraints: { pattern: '[A-Z][a-z]+' } },
  ],
  missingValues: ['', 'NA'],
};

const cities = ['Oslo', 'Lima', 'Rome', 'Kyiv', 'Pune', 'Bern', 'Nice'];

/** `rows` data rows of sales; every 50th row is broken in one of several ways. */
export function generateSales(rows: number, delimiter = ','): GeneratedCsv {
  const lines = [['id', 'price', 'qty', 'active', 'day', 'city'].join(delimiter)];
  const out: GeneratedCsv = { text: '', prices: [], quantities: [], cities: [], rejects: new Map(), rows };
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let row = 1; row <= rows; row += 1) {
    const price = Math.round(rnd() * 1e6) / 100;
    const qty = Math.floor(rnd() * 1000) - 100;
    const city = cities[Math.floor(rnd() * rnd() * cities.length)]!;
    const cells = [String(row), price.toFixed(3), String(qty), row % 3 === 0 ? 'TRUE' : '0', `${1 + (row % 28)}/${1 + (row % 12)}/2024`, city];
    const broken = row % 50 === 0 ? (row / 50) % 5 : -1;
    if (broken === 0) (cells[1] = 'abc'), out.rejects.set(row, 'price');
    else if (broken === 1) cells.push('extra'), out.rejects.set(row, null);
    else if (broken === 2) (cells[0] = 'NA'), out.rejects.set(row, 'id');
    else if (broken === 3) (cells[4] = '31/2/2024'), out.rejects.set(row, 'day');
    else if (broken === 4) (cells[1] = '-1'), out.rejects.set(row, 'price');
    if (row % 40 === 7) cells[2] = 'NA'; // missing, not an error
    lines.push(cells.join(delimiter));
    if (!out.rejects.has(row)) {
      out.prices.push(Number(price.toFixed(3)));
      if (cells[2] !== 'NA') out.quantities.push(qty);
      out.cities.push(city);
    }
  }
  out.text = lines.join('\n') + '\n';
  return out;
}

/** The plain reference: full sort for quantiles, two-pass mean and sample variance. */
export function describeNumbers(values: readonly number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = values.length;
  const mean = values.reduce((a, x) => a + x, 0) / n;
  const std = Math.sqrt(values.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const q = (p: number) => {
    const h = (n - 1) * p;
    const lo = Math.floor(h);
    return sorted[lo]! + (sorted[Math.min(lo + 1, n - 1)]! - sorted[lo]!) * (h - lo);
  };
  return { count: n, mean, std, min: sorted[0]!, '25%': q(0.25), '50%': q(0.5), '75%': q(0.75), max: sorted[n - 1]! };
}

export function describeCategories(values: readonly string[]) {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let top = '';
  let freq = 0;
  for (const [v, c] of counts) if (c > freq) [top, freq] = [v, c];
  return { count: values.length, unique: counts.size, top, freq };
}
