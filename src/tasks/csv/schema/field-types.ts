import { z } from 'zod';
import { BadInputError } from '../../../contract/errors.js';
import type { TableSchemaField } from '../options.js';

export type FieldType = z.infer<typeof TableSchemaField>['type'];
type Field = z.infer<typeof TableSchemaField>;

/** Why a raw cell is not of its type. A class, so a conversion that succeeds allocates nothing but its string. */
export class Invalid {
  constructor(readonly error: string) {}
}
/** A raw cell turned into its normalised text, or the reason it is not of the type. */
export type Conversion = string | Invalid;
export type Converter = (raw: string) => Conversion;

const integerPattern = /^[+-]?\d+$/;
// `\d+(?:\.\d*)?`, not `\d+\.?\d*`: the two digit runs of the latter split a digit string n ways, so a
// megabyte of digits followed by a letter backtracked for minutes (quadratic); this reads each digit once.
const numberPattern = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const isoDate = /^(\d{4})-(\d{2})-(\d{2})$/;
const isoDateTime = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/;

const defaultTrue = ['true', 'True', 'TRUE', '1'];
const defaultFalse = ['false', 'False', 'FALSE', '0'];
const StringList = z.array(z.string()).optional();

const ok = (value: string): Conversion => value;
const fail = (error: string): Conversion => new Invalid(error);

export function convertInteger(raw: string): Conversion {
  if (isPlainInteger(raw)) return raw;
  if (!integerPattern.test(raw)) return fail('not an integer');
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) return fail('integer beyond ±2^53, which cannot be represented exactly');
  return ok(String(n));
}

export function convertNumber(raw: string): Conversion {
  if (isPlainDecimal(raw)) return raw;
  if (!numberPattern.test(raw)) return fail('not a number');
  const n = Number(raw);
  if (!Number.isFinite(n)) return fail('number out of range');
  return ok(String(n));
}

const DIGIT_0 = 0x30;
const MINUS = 0x2d;
/** Most significant digits a decimal may have and still be the shortest text of the double it parses to. */
const exactDigits = 15;

/**
 * Whether `raw` is an integer already in the form String(Number(raw)) gives, so converting it would only
 * rebuild the same text: optional '-', no leading zero, at most 15 digits (safe), not '-0'.
 */
function isPlainInteger(raw: string): boolean {
  const start = raw.charCodeAt(0) === MINUS ? 1 : 0;
  const digits = raw.length - start;
  if (digits < 1 || digits > exactDigits) return false;
  const first = raw.charCodeAt(start) - DIGIT_0;
  if (first < 0 || first > 9 || (first === 0 && (digits > 1 || start === 1))) return false;
  for (let i = start + 1; i < raw.length; i += 1) {
    const d = raw.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) return false;
  }
  return true;
}

/**
 * Whether `raw` is a decimal that String(Number(raw)) gives back unchanged. Distinct decimals of at most
 * 15 significant digits parse to distinct doubles, so such a decimal is its double's shortest text; JS
 * prints it in plain notation when it is at least 1e-6 (and it is far below 1e21). So: optional '-',
 * integer part without a leading zero, a fraction (if any) without a trailing zero, at most 15
 * significant digits, at most 5 zeros after '0.', never a zero value with a sign. A unit test checks the
 * claim against String(Number(raw)) on many random decimals.
 */
function isPlainDecimal(raw: string): boolean {
  const dot = raw.indexOf('.');
  if (dot < 0) return isPlainInteger(raw);
  const start = raw.charCodeAt(0) === MINUS ? 1 : 0;
  if (dot === start || dot === raw.length - 1 || raw.charCodeAt(raw.length - 1) === DIGIT_0) return false;
  const zeroInteger = dot === start + 1 && raw.charCodeAt(start) === DIGIT_0;
  if (!zeroInteger && !isPlainInteger(raw.slice(0, dot))) return false;
  let significant = zeroInteger ? 0 : dot - start;
  let leadingZeros = 0;
  for (let i = dot + 1; i < raw.length; i += 1) {
    const d = raw.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) return false;
    if (significant === 0 && d === 0) leadingZeros += 1;
    else significant += 1;
  }
  return significant <= exactDigits && leadingZeros <= 5;
}

const monthDays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** Gregorian days per month without building a Date per cell; years 0-99 are 1900-1999 as Date.UTC reads them. */
export function validDay(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const year = y <= 99 ? 1900 + y : y;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return d <= (m === 2 && leap ? 29 : (monthDays[m - 1] as number));
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

type DirectiveName = 'Y' | 'm' | 'd' | 'H' | 'M' | 'S';
/** Digits each directive reads: a year is four, the others one or two. */
const directiveDigits: Record<DirectiveName, readonly [number, number]> = { Y: [4, 4], m: [1, 2], d: [1, 2], H: [1, 2], M: [1, 2], S: [1, 2] };
const isDirective = (ch: string): ch is DirectiveName => Object.hasOwn(directiveDigits, ch);
type FormatPart = { literal: string } | { directive: DirectiveName };
/** The numbers a value in a strftime format holds; a directive the format lacks is absent. */
type DateParts = Partial<Record<DirectiveName, number>>;

/**
 * strftime-style formats (Frictionless `format` for date and datetime): %Y %m %d %H %M %S are supported,
 * each at most once; anything else in the format is literal text. Matched by hand, not by a regular
 * expression built from the format, so no schema text reaches V8's backtracking engine. Digits are read
 * greedily with backtracking, as `(\d{1,2})` would be; with each directive once, that is at most 2^5
 * tries per value.
 */
function compileStrftime(format: string, where: string): (raw: string) => DateParts | undefined {
  const parts: FormatPart[] = [];
  const used = new Set<DirectiveName>();
  let literal = '';
  for (let i = 0; i < format.length; i += 1) {
    const ch = format[i] ?? '';
    if (ch !== '%' || i + 1 >= format.length) {
      literal += ch;
      continue;
    }
    const name = format[i + 1] ?? '';
    if (!isDirective(name)) throw new BadInputError('CSV_SCHEMA_INVALID', `The schema's ${where} has a directive other than %Y %m %d %H %M %S at character ${i + 1}. Fix the schema.`);
    if (used.has(name)) throw new BadInputError('CSV_SCHEMA_INVALID', `The schema's ${where} uses %${name} more than once. Fix the schema.`);
    used.add(name);
    if (literal) parts.push({ literal });
    literal = '';
    parts.push({ directive: name });
    i += 1;
  }
  if (literal) parts.push({ literal });
  const match = (raw: string, k: number, at: number, out: DateParts): boolean => {
    const part = parts[k];
    if (!part) return at === raw.length;
    if ('literal' in part) return raw.startsWith(part.literal, at) && match(raw, k + 1, at + part.literal.length, out);
    const [min, max] = directiveDigits[part.directive];
    let digits = 0;
    while (digits < max && isDigit(raw.charCodeAt(at + digits))) digits += 1;
    for (let width = digits; width >= min; width -= 1) {
      if (match(raw, k + 1, at + width, out)) {
        out[part.directive] = Number(raw.slice(at, at + width));
        return true;
      }
    }
    return false;
  };
  return (raw) => {
    const out: DateParts = {};
    return match(raw, 0, 0, out) ? out : undefined;
  };
}

const isDigit = (code: number) => code >= DIGIT_0 && code <= DIGIT_0 + 9;

/** A custom strftime format, or undefined for ISO 8601 (no format, `default`, `any`). */
const customFormat = (format: string | undefined, where: string) => (format && format !== 'default' && format !== 'any' ? compileStrftime(format, where) : undefined);

function dateConverter(format: string | undefined, where: string): Converter {
  const custom = customFormat(format, where);
  return (raw) => {
    let y: number, m: number, d: number;
    if (custom) {
      const g = custom(raw);
      if (!g) return fail(`not a date in format ${format}`);
      [y, m, d] = [Number(g.Y), Number(g.m), Number(g.d)];
    } else {
      const r = isoDate.exec(raw);
      if (!r) return fail('not a date (YYYY-MM-DD)');
      // An ISO date that is a calendar date is already in normal form.
      return validDay(Number(r[1]), Number(r[2]), Number(r[3])) ? raw : fail('not a calendar date');
    }
    if (!validDay(y, m, d)) return fail('not a calendar date');
    return ok(`${pad(y, 4)}-${pad(m)}-${pad(d)}`);
  };
}

function datetimeConverter(format: string | undefined, where: string): Converter {
  const custom = customFormat(format, where);
  return (raw) => {
    let y: number, mo: number, d: number, h: number, mi: number, s: number;
    let frac = '';
    let zone = '';
    if (custom) {
      const g = custom(raw);
      if (!g) return fail(`not a datetime in format ${format}`);
      [y, mo, d, h, mi, s] = [Number(g.Y), Number(g.m), Number(g.d), g.H ?? 0, g.M ?? 0, g.S ?? 0];
    } else {
      const r = isoDateTime.exec(raw);
      if (!r) return fail('not a datetime (YYYY-MM-DDTHH:MM:SS, optional fraction and zone)');
      [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(r[i])) as [number, number, number, number, number, number];
      frac = r[7] ?? '';
      const z = r[8] ?? '';
      zone = z === 'Z' || z === '' ? z : `${z.slice(0, 3)}:${z.slice(-2)}`;
    }
    if (!validDay(y, mo, d) || h > 23 || mi > 59 || s > 60) return fail('not a valid date and time');
    return ok(`${pad(y, 4)}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}${frac}${zone}`);
  };
}

function booleanConverter(field: Field, where: string): Converter {
  const trues = new Set(stringList(field, 'trueValues', where) ?? defaultTrue);
  const falses = new Set(stringList(field, 'falseValues', where) ?? defaultFalse);
  return (raw) => (trues.has(raw) ? ok('true') : falses.has(raw) ? ok('false') : fail('not a boolean'));
}

/** A field's `trueValues` or `falseValues`: absent, or a list of strings (a passthrough property zod did not check). */
function stringList(field: Field, key: 'trueValues' | 'falseValues', where: string): string[] | undefined {
  const parsed = StringList.safeParse(field[key]);
  if (!parsed.success) throw new BadInputError('CSV_SCHEMA_INVALID', `The schema's ${where}.${key} is not a list of strings. Fix the schema.`);
  return parsed.data;
}

/** The converter for a schema field's type and format; `where` names the field in the schema (`fields[2]`). */
export function converterFor(field: Field, where: string): Converter {
  switch (field.type) {
    case 'integer':
      return convertInteger;
    case 'number':
      return convertNumber;
    case 'boolean':
      return booleanConverter(field, where);
    case 'date':
      return dateConverter(field.format, `${where}.format`);
    case 'datetime':
      return datetimeConverter(field.format, `${where}.format`);
    case 'string':
      return ok;
  }
}

/** Types a column can be inferred as, most specific first; a column matching none is a string. */
const inferable: readonly { type: FieldType; convert: Converter }[] = [
  { type: 'integer', convert: convertInteger },
  { type: 'number', convert: convertNumber },
  { type: 'boolean', convert: booleanConverter({ name: 'inferred', type: 'boolean' }, 'inferred') },
  { type: 'date', convert: dateConverter(undefined, 'format') },
  { type: 'datetime', convert: datetimeConverter(undefined, 'format') },
];

/** What a TypeInference has learnt: the bit set of types still possible, and whether it saw a value. */
export interface InferenceState {
  possible: number;
  seen: boolean;
}

/**
 * Infers one column's type over the whole file: every non-missing value narrows the set of types still
 * possible, so a column costs nothing once it is known to be text.
 */
export class TypeInference {
  private possible = (1 << inferable.length) - 1;
  private seen = false;

  /** One inference from several threads' states over parts of the column. */
  static merge(states: readonly InferenceState[]): TypeInference {
    const merged = new TypeInference();
    for (const s of states) {
      merged.possible &= s.possible;
      merged.seen ||= s.seen;
    }
    return merged;
  }

  /** Whether a value can still narrow the type (once it is text, values are not looked at). */
  get open(): boolean {
    return this.possible !== 0;
  }

  state(): InferenceState {
    return { possible: this.possible, seen: this.seen };
  }

  observe(raw: string): void {
    if (this.possible === 0) return;
    this.seen = true;
    for (let i = 0; i < inferable.length; i += 1) {
      const bit = 1 << i;
      if (this.possible & bit && inferable[i]!.convert(raw) instanceof Invalid) this.possible &= ~bit;
    }
  }

  get type(): FieldType {
    if (!this.seen) return 'string';
    const i = inferable.findIndex((_, j) => this.possible & (1 << j));
    return i < 0 ? 'string' : inferable[i]!.type;
  }
}
