import assert from 'node:assert/strict';
import { test } from 'node:test';
import { convertInteger, convertNumber, Invalid } from '../../src/tasks/csv/schema/field-types.js';

/** The plain definition the converters' shortcuts must agree with: parse, then print as JS does. */
const expectedNumber = (raw: string) => (/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(raw) && Number.isFinite(Number(raw)) ? String(Number(raw)) : undefined);
const expectedInteger = (raw: string) => (/^[+-]?\d+$/.test(raw) && Number.isSafeInteger(Number(raw)) ? String(Number(raw)) : undefined);
const asText = (c: string | Invalid) => (c instanceof Invalid ? undefined : c);

test('number and integer normalisation equals String(Number(raw)) on random decimals, shortcuts included', () => {
  let s = 11;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const digits = (n: number, zeroHeavy: boolean) => Array.from({ length: n }, () => (zeroHeavy && rnd() < 0.5 ? '0' : String(Math.floor(rnd() * 10)))).join('');
  const fixed = ['0', '-0', '0.0', '-0.5', '0.000001', '0.0000001', '1e5', '+1', '007', '1.', '.5', '123456789012345', '1234567890123456', '0.1234567890123456', '9007199254740993', '-', '', '1.50', 'abc', ' 1'];
  const samples = [...fixed];
  for (let i = 0; i < 200_000; i += 1) {
    const zeroHeavy = rnd() < 0.3;
    const sign = rnd() < 0.2 ? '-' : rnd() < 0.02 ? '+' : '';
    const int = digits(Math.floor(rnd() * 18), zeroHeavy);
    const frac = rnd() < 0.6 ? '.' + digits(Math.floor(rnd() * 18), zeroHeavy) : '';
    samples.push(sign + int + frac);
  }
  for (const raw of samples) {
    assert.equal(asText(convertNumber(raw)), expectedNumber(raw), `number ${JSON.stringify(raw)}`);
    assert.equal(asText(convertInteger(raw)), expectedInteger(raw), `integer ${JSON.stringify(raw)}`);
  }
});
