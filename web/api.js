// The dashboard's own JSON API (docs/dashboard.md). The token lives in this tab's sessionStorage only:
// the server never puts it in the page, and no cookie carries it.

const tokenKey = 'stageline-dashboard-token';

export const token = {
  get: () => sessionStorage.getItem(tokenKey) ?? '',
  set: (value) => (value ? sessionStorage.setItem(tokenKey, value) : sessionStorage.removeItem(tokenKey)),
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function answer(res) {
  const type = res.headers.get('content-type') ?? '';
  const body = type.includes('application/json') ? await res.json().catch(() => ({})) : {};
  if (!res.ok) throw new ApiError(res.status, typeof body.error === 'string' ? body.error : `${res.status} ${res.statusText}`);
  return body;
}

export async function getJson(url) {
  return answer(await fetch(url, { headers: { Accept: 'application/json' } }));
}

export async function act(url) {
  const headers = { Accept: 'application/json' };
  if (token.get()) headers.Authorization = `Bearer ${token.get()}`;
  return answer(await fetch(url, { method: 'POST', headers }));
}

export function jobsUrl({ state, kind, q, cursor, limit }) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ state, kind, q, cursor, limit })) if (v) params.set(k, String(v));
  const query = params.toString();
  return `/api/jobs${query ? `?${query}` : ''}`;
}

export const jobUrl = (jobId) => `/api/jobs/${encodeURIComponent(jobId)}`;

/** Text of an output; with `maxBytes`, only its beginning (a Range request), and whether that was all of it. */
export async function outputText(url, maxBytes) {
  const res = await fetch(url, maxBytes ? { headers: { Range: `bytes=0-${maxBytes - 1}` } } : {});
  // No range is satisfiable in an empty file (RFC 9110): it is simply empty.
  if (res.status === 416 && /^bytes \*\/0$/.test(res.headers.get('content-range') ?? '')) return { text: '', complete: true };
  if (!res.ok) throw new ApiError(res.status, `${res.status} ${res.statusText}`);
  const text = await res.text();
  const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1];
  return { text, complete: res.status === 200 || (total !== undefined && Number(total) <= maxBytes) };
}

/** Live updates: one EventSource for the page, its events re-dispatched on `bus`. */
export const bus = new EventTarget();

export function connectEvents(onState) {
  const source = new EventSource('/api/events');
  source.addEventListener('open', () => onState(true));
  source.addEventListener('error', () => onState(source.readyState === EventSource.OPEN));
  for (const name of ['queues', 'job']) {
    source.addEventListener(name, (e) => {
      try {
        bus.dispatchEvent(new CustomEvent(name, { detail: JSON.parse(e.data) }));
      } catch {
        // A malformed event is skipped; the next poll sends the state again.
      }
    });
  }
  return source;
}
