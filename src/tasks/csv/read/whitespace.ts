import { Transform, type TransformCallback } from 'node:stream';
import { BadInputError } from '../../../contract/errors.js';
import { csvLimits } from './limits.js';

const enum State {
  /** Between fields: spaces and tabs are skipped. */
  Between,
  /** In a value without quotes, held in `field` until it ends. */
  Bare,
  /** Inside a quoted value. */
  Quoted,
  /** A quote seen inside a quoted value: doubled, or the value's end. */
  QuoteInQuoted,
}

/**
 * Rewrites text delimited by runs of spaces and tabs (pandas `sep='\s+'`) as comma CSV, line by line, so the ordinary
 * record readers read it: leading and trailing whitespace of a line is dropped, a run of spaces and tabs is one
 * delimiter, a value that starts with `"` is quoted (doubled quotes inside, line breaks allowed) and copied as it is, a
 * bare value holding `,` or `"` is quoted. Line breaks are kept, so line numbers stay the file's. A quoted value
 * followed by more text (`"ab"c`, which pandas reads as `abc`) is passed on as it is and rejected by the reader.
 */
export class WhitespaceToCsv {
  private state = State.Between;
  private fieldsOnLine = 0;
  private field = '';

  push(text: string): string {
    let out = '';
    for (let i = 0; i < text.length; i += 1) {
      const ch = text[i]!;
      switch (this.state) {
        case State.Between:
          if (ch === ' ' || ch === '\t') break;
          if (ch === '\n' || ch === '\r') {
            out += ch;
            this.fieldsOnLine = 0;
            break;
          }
          if (this.fieldsOnLine > 0) out += ',';
          this.fieldsOnLine += 1;
          if (ch === '"') {
            out += ch;
            this.state = State.Quoted;
          } else {
            this.field = ch;
            this.state = State.Bare;
          }
          break;
        case State.Bare:
          if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
            out += this.endField();
            this.state = State.Between;
            i -= 1; // the delimiter or line break is handled between fields
          } else {
            this.field += ch;
            if (this.field.length > csvLimits.maxRecordChars) {
              throw new BadInputError('CSV_LINE_TOO_LONG', `A value is longer than ${csvLimits.maxRecordChars} characters. Check the file, or set csv.delimiter if it is not delimited by whitespace.`);
            }
          }
          break;
        case State.Quoted:
          if (ch === '"') this.state = State.QuoteInQuoted;
          else out += ch;
          break;
        case State.QuoteInQuoted:
          if (ch === '"') {
            out += '""';
            this.state = State.Quoted;
          } else {
            out += '"';
            if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
              this.state = State.Between;
              i -= 1;
            } else {
              out += ch;
              this.field = '';
              this.state = State.Bare;
            }
          }
          break;
      }
    }
    return out;
  }

  /** What is left at the end of the text. */
  end(): string {
    if (this.state === State.Bare) return this.endField();
    if (this.state === State.QuoteInQuoted) return '"';
    return '';
  }

  private endField(): string {
    const f = this.field;
    this.field = '';
    return f.includes('"') || f.includes(',') ? `"${f.replaceAll('"', '""')}"` : f;
  }
}

/** The whole of `text` rewritten (the sniffer's head). */
export function whitespaceToCsv(text: string): string {
  const w = new WhitespaceToCsv();
  return w.push(text) + w.end();
}

/** The streaming stage: UTF-8 chunks of whole characters in (the decoding stages pass no split character), UTF-8 out. */
export class WhitespaceToCsvStage extends Transform {
  private readonly rewriter = new WhitespaceToCsv();
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      done(null, Buffer.from(this.rewriter.push(chunk.toString('utf8')), 'utf8'));
    } catch (err) {
      done(err as Error);
    }
  }
  override _flush(done: TransformCallback): void {
    done(null, Buffer.from(this.rewriter.end(), 'utf8'));
  }
}
