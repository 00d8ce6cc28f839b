import { CanonicalRecords, fieldValue } from '../../src/tasks/csv/read/canonical-reader.js';

/** CanonicalRecords' records as cells, for tests that compare them with strings. Text may be pushed in pieces cut anywhere. */
export class CanonicalCsvReader {
  private readonly records: CanonicalRecords;
  /** A high surrogate that ended the last piece: its pair comes with the next. */
  private carry = '';

  constructor(sink: (cells: string[]) => void) {
    this.records = new CanonicalRecords(({ text, count, starts, ends }) => {
      const cells: string[] = new Array<string>(count);
      for (let i = 0; i < count; i += 1) cells[i] = fieldValue(text, starts[i]!, ends[i]!);
      sink(cells);
    });
  }

  push(text: string): void {
    let s = this.carry + text;
    this.carry = '';
    const last = s.charCodeAt(s.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.carry = s.slice(-1);
      s = s.slice(0, -1);
    }
    this.records.push(Buffer.from(s, 'utf8'));
  }

  end(): void {
    if (this.carry) this.records.push(Buffer.from(this.carry, 'utf8'));
    this.carry = '';
    this.records.end();
  }
}

