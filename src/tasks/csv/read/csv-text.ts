/** RFC 4180 output: comma, LF, quotes only where a cell needs them. Missing cells are empty. */
const needsQuotes = /[",\r\n]/;

/** `needsQuotes` on the UTF-8 bytes text[start, end) of a value: the four are ASCII, never part of a multi-byte character. */
export function bytesNeedQuotes(text: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i += 1) {
    const c = text[i];
    if (c === 0x22 || c === 0x2c || c === 0x0d || c === 0x0a) return true;
  }
  return false;
}

export function csvCell(value: string | null): string {
  if (value === null) return '';
  return needsQuotes.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function csvLine(cells: readonly (string | null)[]): string {
  let line = '';
  for (let i = 0; i < cells.length; i += 1) line += (i === 0 ? '' : ',') + csvCell(cells[i] ?? null);
  return line + '\n';
}
