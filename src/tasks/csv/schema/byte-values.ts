/**
 * Values read straight from UTF-8 bytes, for the hot paths that would otherwise build a string per cell
 * only to test or convert it. Each function answers exactly as its string counterpart would, or declines
 * (undefined) and leaves the case to it; unit tests hold them to that on random input.
 */

import { validDay } from './field-types.js';

const DIGIT_0 = 0x30;
const MINUS = 0x2d;
const DOT = 0x2e;
/** Most digits whose integer is exact in a double (10^15 < 2^53). */
const exactDigits = 15;
/** Powers of ten that are exact doubles. */
const POW10 = Array.from({ length: exactDigits + 1 }, (_, k) => 10 ** k);

/**
 * Number(text) for a plain decimal (optional '-', digits, at most one '.', at most 15 digits in all), or
 * undefined for anything else. Exact: the digits form an integer below 2^53 and the divisor is an exact
 * power of ten, so the one rounding of the division is the correctly rounded value Number() gives
 * (Clinger's fast path).
 */
export function plainDecimal(text: Uint8Array, start: number, end: number): number | undefined {
  let i = start;
  const negative = text[i] === MINUS;
  if (negative) i += 1;
  let mantissa = 0;
  let digits = 0;
  let dot = -1;
  for (; i < end; i += 1) {
    const d = text[i]! - DIGIT_0;
    if (d >= 0 && d <= 9) {
      mantissa = mantissa * 10 + d;
      digits += 1;
    } else if (d === DOT - DIGIT_0 && dot < 0) dot = i;
    else return undefined;
  }
  if (digits === 0 || digits > exactDigits) return undefined;
  const value = dot < 0 ? mantissa : mantissa / POW10[end - dot - 1]!;
  return negative ? -value : value;
}

/**
 * Whether text[start, end) is an integer already in the form String(Number(raw)) gives: optional '-', no
 * leading zero, at most 15 digits, not '-0' (field-types.ts isPlainInteger, on bytes).
 */
export function isPlainIntegerBytes(text: Uint8Array, start: number, end: number): boolean {
  const from = text[start] === MINUS ? start + 1 : start;
  const digits = end - from;
  if (digits < 1 || digits > exactDigits) return false;
  const first = text[from]! - DIGIT_0;
  if (first < 0 || first > 9 || (first === 0 && (digits > 1 || from > start))) return false;
  for (let i = from + 1; i < end; i += 1) {
    const d = text[i]! - DIGIT_0;
    if (d < 0 || d > 9) return false;
  }
  return true;
}

/** Whether text[start, end) is a decimal String(Number(raw)) gives back unchanged (field-types.ts isPlainDecimal, on bytes). */
export function isPlainDecimalBytes(text: Uint8Array, start: number, end: number): boolean {
  let dot = -1;
  for (let i = start; i < end; i += 1) {
    if (text[i] === DOT) {
      dot = i;
      break;
    }
  }
  if (dot < 0) return isPlainIntegerBytes(text, start, end);
  const from = text[start] === MINUS ? start + 1 : start;
  if (dot === from || dot === end - 1 || text[end - 1] === DIGIT_0) return false;
  const zeroInteger = dot === from + 1 && text[from] === DIGIT_0;
  if (!zeroInteger && !isPlainIntegerBytes(text, start, dot)) return false;
  let significant = zeroInteger ? 0 : dot - from;
  let leadingZeros = 0;
  for (let i = dot + 1; i < end; i += 1) {
    const d = text[i]! - DIGIT_0;
    if (d < 0 || d > 9) return false;
    if (significant === 0 && d === 0) leadingZeros += 1;
    else significant += 1;
  }
  return significant <= exactDigits && leadingZeros <= 5;
}

/**
 * Where a decimal's normal form ends, when it is text[start, end) with its fraction's trailing zeros (and
 * then a bare dot) dropped and that is a plain decimal: `12.50` -> `12.5`, `3.00` -> `3`; -1 otherwise.
 * The dropped digits do not change the value, so the rest is String(Number(raw)).
 */
export function trimmedDecimalEnd(text: Uint8Array, start: number, end: number): number {
  let e = end;
  while (e > start && text[e - 1] === DIGIT_0) e -= 1;
  if (e === end) return -1;
  let dot = e - 1;
  while (dot >= start && text[dot] !== DOT) dot -= 1;
  if (dot < start) return -1;
  if (text[e - 1] === DOT) e -= 1;
  return isPlainDecimalBytes(text, start, e) ? e : -1;
}

/** Whether text[start, end) is an ISO `YYYY-MM-DD` calendar date, which the date type keeps as it is. */
export function isIsoDateBytes(text: Uint8Array, start: number, end: number): boolean {
  if (end - start !== 10 || text[start + 4] !== MINUS || text[start + 7] !== MINUS) return false;
  const y = digitsAt(text, start, 4);
  const m = digitsAt(text, start + 5, 2);
  const d = digitsAt(text, start + 8, 2);
  return y >= 0 && m >= 0 && d >= 0 && validDay(y, m, d);
}

/** The number that `count` ASCII digits at `at` spell, or -1 if one is not a digit. */
function digitsAt(text: Uint8Array, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i += 1) {
    const d = text[i]! - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Whether text[start, end) holds exactly the bytes of `expected`. */
export function bytesEqual(text: Uint8Array, start: number, end: number, expected: Uint8Array): boolean {
  if (end - start !== expected.length) return false;
  for (let i = 0; i < expected.length; i += 1) if (text[start + i] !== expected[i]) return false;
  return true;
}
