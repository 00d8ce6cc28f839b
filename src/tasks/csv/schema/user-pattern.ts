import { RE2JS, RE2JSSyntaxException } from 're2js';
import { BadInputError } from '../../../contract/errors.js';

/** A schema's regular expression, compiled for RE2: matching takes time linear in the value, whatever the pattern. */
export interface UserPattern {
  /** Whether the whole value matches (Table Schema patterns are implicitly anchored). */
  test(value: string): boolean;
  /** RE2 instructions the pattern compiled to: what checking one character of a value may cost. */
  readonly size: number;
}

/**
 * Compiles a pattern from a schema with RE2 (re2js), never with V8's backtracking engine, on which
 * `(a+)+$` takes exponential time on a near-match. The pattern is compiled on its own and matched whole
 * (`testExact`), not wrapped in `^(?:…)$`, so a pattern such as `a)|(b` cannot reopen the anchors.
 * What RE2 refuses (backreferences, lookaround, bad syntax) is CSV_SCHEMA_INVALID naming `where`, the
 * place in the schema; the message carries RE2's kind of error, never the pattern's text (nor does a
 * cause: RE2's own message quotes it).
 */
export function compileUserPattern(source: string, where: string): UserPattern {
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (err) {
    const why = err instanceof RE2JSSyntaxException ? err.error : 'it cannot be compiled';
    throw new BadInputError(
      'CSV_SCHEMA_INVALID',
      `The schema's ${where} is not a regular expression RE2 accepts (${why}). Patterns use RE2 syntax, which has no backreferences or lookaround: fix the schema.`,
    );
  }
  return { test: (value) => re.testExact(value), size: re.programSize() };
}
