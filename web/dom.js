// Every string from a job (file names, keys, errors, CSV values) reaches the page as text: elements are
// built with the DOM API, text goes in as text nodes, and no job data ever goes through innerHTML.

/** `h('a', { href: '#/x', class: 'c', onclick: fn }, 'text', child)`. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'href' || key === 'src' || key === 'poster') el.setAttribute(key, safeUrl(value));
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Only links within the dashboard: its own paths and hash routes. */
function safeUrl(value) {
  const s = String(value);
  return s.startsWith('/') && !s.startsWith('//') ? s : s.startsWith('#') ? s : '#';
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function formatDuration(ms) {
  if (ms === undefined || ms === null) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatAge(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds === 0) return '0';
  return formatDuration(seconds * 1000);
}

export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function badge(state) {
  return h('span', { class: `badge state-${state}` }, state);
}
