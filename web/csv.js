import { getJson, outputText } from './api.js';
import { h } from './dom.js';

const shownRejects = 100;
/** Only the start of rejects.jsonl is fetched (a Range request): a big file's first rows are enough. */
const rejectsBytes = 256 * 1024;

/** A CSV job: the validation report, the first rejected rows, and per column its statistics. */
export async function csvView(section, job) {
  const links = job.links;
  const [validation, rejects, analysis] = await Promise.all([
    links['validation.json'] ? getJson(links['validation.json']) : undefined,
    links['rejects.jsonl'] ? outputText(links['rejects.jsonl'], rejectsBytes) : undefined,
    links['analysis.json'] ? getJson(links['analysis.json']) : undefined,
  ]);
  if (validation) {
    const pct = (x) => `${(100 * x).toFixed(x < 0.01 && x > 0 ? 3 : 2)}%`;
    section.append(
      h('h2', {}, 'Validation'),
      h('dl', { class: 'report', id: 'validation-report' },
        [['rows read', validation.rowsRead], ['valid', validation.rowsValid], ['rejected', validation.rowsRejected], ['error rate', pct(validation.errorRate)], ['allowed error rate', pct(validation.maxErrorRate)], ['schema', validation.schemaSource]].map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])),
    );
  }
  if (rejects) section.append(rejectsTable(rejects, validation?.rowsRejected));
  if (analysis) section.append(statsTable(analysis));
}

function rejectsTable({ text, complete }, total) {
  const lines = text.split('\n');
  // A partial read ends inside a line: that line waits for the full file.
  if (!complete) lines.pop();
  const rows = [];
  for (const line of lines) {
    if (rows.length >= shownRejects) break;
    if (!line.trim()) continue;
    try {
      rows.push(JSON.parse(line));
    } catch {
      // not a reject line: skipped
    }
  }
  const heading = h('h2', {}, 'Rejected rows', total ? h('span', { class: 'muted' }, ` (first ${Math.min(rows.length, total)} of ${total})`) : null);
  if (rows.length === 0) return h('div', {}, heading, h('p', { class: 'muted' }, 'No row was rejected.'));
  return h('div', {}, heading,
    h('table', { class: 'rejects', id: 'rejects' },
      h('thead', {}, h('tr', {}, h('th', {}, 'row'), h('th', {}, 'column'), h('th', {}, 'value'), h('th', {}, 'error'))),
      h('tbody', {}, rows.map((r) => h('tr', {}, h('td', {}, String(r.row)), h('td', {}, r.column ?? ''), h('td', { class: 'mono' }, r.value ?? ''), h('td', {}, r.error ?? ''))))));
}

function statsTable(analysis) {
  const columns = ['type', 'count', 'missing', 'mean', 'std', 'min', '25%', '50%', '75%', 'max', 'unique', 'top', 'freq'];
  const show = (v) => (v === null || v === undefined ? '' : typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(6).replace(/\.?0+$/, '') : String(v));
  return h('div', {},
    h('h2', {}, 'Columns', h('span', { class: 'muted' }, ` (${analysis.rows} valid rows)`)),
    h('div', { class: 'scroll' },
      h('table', { class: 'stats', id: 'column-stats' },
        h('thead', {}, h('tr', {}, h('th', {}, 'column'), columns.map((c) => h('th', {}, c)))),
        h('tbody', {}, analysis.columns.map((col) => h('tr', {}, h('th', { class: 'mono' }, col.name), columns.map((c) => h('td', {}, show(col[c])))))))));
}
