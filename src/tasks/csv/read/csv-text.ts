/** RFC 4180 output: comma, LF, quotes only where a cell needs them. Missing cells are empty. */
const needsQuotes = /[",\r\n]/;

export function csvCell(value: string | null): string {
  if (value === null) return '';
  return needsQuotes.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function csvLine(cells: readonly (string | null)[]): string {
  let line = '';
  for (let i = 0; i < cells.length; i += 1) line += (i === 0 ? '' : ',') + csvCell(cells[i] ?? null);
  return line + '\n';
}
