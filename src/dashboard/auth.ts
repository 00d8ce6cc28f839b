import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Who may act (retry, cancel, redrive): a request with `Authorization: Bearer <DASHBOARD_TOKEN>`.
 * `disabled`: no token is configured, so no one may (403); `missing`: no bearer token (401);
 * `wrong`: a token that is not the one (403). The comparison is over SHA-256 digests, equal in length
 * whatever was sent, with timingSafeEqual: neither the token's length nor its characters leak through
 * timing. There are no cookies, so a page on another site cannot act through the user's browser.
 */
export type Authorization = 'ok' | 'disabled' | 'missing' | 'wrong';

export function authorize(header: string | undefined, token: string | undefined): Authorization {
  if (token === undefined || token === '') return 'disabled';
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  if (!match?.[1]) return 'missing';
  return timingSafeEqual(digest(match[1]), digest(token)) ? 'ok' : 'wrong';
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
