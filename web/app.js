import { connectEvents, token } from './api.js';
import { clear, h } from './dom.js';
import { listView } from './list.js';
import { jobView } from './job.js';

const main = document.getElementById('main');
const live = document.getElementById('live');
let leave = () => {};

/** Hash routes: `#/` the job list, `#/jobs/<jobId>` a job. */
async function route() {
  leave();
  leave = () => {};
  clear(main);
  const match = /^#\/jobs\/([^/?]+)/.exec(location.hash);
  try {
    leave = match ? await jobView(main, decodeURIComponent(match[1])) : await listView(main);
  } catch (err) {
    clear(main).append(h('p', { class: 'error' }, err instanceof Error ? err.message : String(err)));
  }
}

const tokenInput = document.getElementById('token');
tokenInput.value = token.get();
document.getElementById('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  token.set(tokenInput.value.trim());
  tokenInput.blur();
});

connectEvents((open) => {
  live.classList.toggle('off', !open);
  live.title = open ? 'live updates: connected' : 'live updates: reconnecting';
});
window.addEventListener('hashchange', route);
route();
