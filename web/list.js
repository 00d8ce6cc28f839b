import { act, bus, getJson, jobsUrl } from './api.js';
import { badge, clear, formatAge, formatTime, h } from './dom.js';

const states = ['scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled'];
const kinds = ['audio', 'csv', 'video'];
const stages = ['ingestion', 'validation', 'analysis'];
/** Filters outlive a visit to a job page. */
const filters = { state: '', kind: '', q: '' };

/** The job list with its filters and the queues; returns what to undo when the page is left. */
export async function listView(main) {
  const queues = h('section', { class: 'queues', 'aria-label': 'queues' }, h('p', { class: 'muted' }, 'Reading the queues…'));
  const rows = h('tbody');
  const more = h('button', { type: 'button', class: 'more', hidden: true }, 'Older jobs');
  const note = h('p', { class: 'muted', id: 'list-note' });
  const stateSelect = h('select', { id: 'filter-state', 'aria-label': 'state' }, h('option', { value: '' }, 'every state'), states.map((s) => h('option', { value: s }, s)));
  const kindSelect = h('select', { id: 'filter-kind', 'aria-label': 'kind' }, h('option', { value: '' }, 'every kind'), kinds.map((k) => h('option', { value: k }, k)));
  const search = h('input', { id: 'filter-q', type: 'search', placeholder: 'jobId or input key', 'aria-label': 'search', spellcheck: 'false' });
  stateSelect.value = filters.state;
  kindSelect.value = filters.kind;
  search.value = filters.q;
  main.append(
    queues,
    h('section', { class: 'jobs' },
      h('div', { class: 'filters' }, h('h2', {}, 'Jobs'), stateSelect, kindSelect, search),
      h('table', { class: 'job-list' },
        h('thead', {}, h('tr', {}, h('th', {}, 'state'), h('th', {}, 'job'), h('th', {}, 'kind'), h('th', {}, 'input'), h('th', {}, 'created'))),
        rows),
      note,
      more),
  );

  const shown = new Map();
  let cursor = null;
  let generation = 0;

  const row = (job) =>
    h('tr', { 'data-job': job.jobId },
      h('td', {}, badge(job.state)),
      h('td', { class: 'mono' }, h('a', { href: `#/jobs/${encodeURIComponent(job.jobId)}` }, job.jobId)),
      h('td', {}, job.kind ?? '—'),
      h('td', { class: 'mono input-key', title: `s3://${job.input.bucket}/${job.input.key}` }, job.input.key),
      h('td', { class: 'muted' }, formatTime(job.createdAt)));

  const matches = (job) =>
    (!filters.state || job.state === filters.state) &&
    (!filters.kind || job.kind === filters.kind) &&
    (!filters.q || job.jobId.toLowerCase().includes(filters.q.toLowerCase()) || job.input.key.toLowerCase().includes(filters.q.toLowerCase()));

  async function load(reset) {
    const mine = reset ? ++generation : generation;
    if (reset) {
      cursor = null;
      shown.clear();
      clear(rows);
    }
    const page = await getJson(jobsUrl({ ...filters, cursor }));
    if (mine !== generation) return;
    for (const job of page.jobs) {
      if (shown.has(job.jobId)) continue;
      const tr = row(job);
      shown.set(job.jobId, tr);
      rows.append(tr);
    }
    cursor = page.nextCursor;
    more.hidden = !cursor;
    note.textContent = shown.size === 0 ? (cursor ? 'Nothing here yet: older jobs may match.' : 'No jobs match.') : '';
  }

  const onJob = (e) => {
    const job = e.detail;
    const current = shown.get(job.jobId);
    if (!matches(job)) {
      current?.remove();
      shown.delete(job.jobId);
      return;
    }
    const tr = row(job);
    tr.classList.add('changed');
    if (current) current.replaceWith(tr);
    else rows.prepend(tr);
    shown.set(job.jobId, tr);
    note.textContent = '';
  };
  const queueMessage = h('p', { class: 'muted action-result', role: 'status' });
  const onQueues = (e) => renderQueues(queues, e.detail, queueMessage);

  let typing;
  const reload = () => load(true).catch((err) => (note.textContent = err.message));
  stateSelect.addEventListener('change', () => ((filters.state = stateSelect.value), reload()));
  kindSelect.addEventListener('change', () => ((filters.kind = kindSelect.value), reload()));
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => ((filters.q = search.value.trim()), reload()), 250);
  });
  more.addEventListener('click', () => load(false).catch((err) => (note.textContent = err.message)));
  bus.addEventListener('job', onJob);
  bus.addEventListener('queues', onQueues);
  await Promise.all([reload(), getJson('/api/queues').then((q) => renderQueues(queues, q, queueMessage)).catch((err) => clear(queues).append(h('p', { class: 'error' }, err.message)))]);
  return () => {
    clearTimeout(typing);
    bus.removeEventListener('job', onJob);
    bus.removeEventListener('queues', onQueues);
  };
}

function renderQueues(section, queues, message) {
  const cells = (s) => {
    const q = queues[s];
    const redrive = h('button', { type: 'button', disabled: !q.dlqDepth, title: 'move every message of the dead-letter queue back to the stage queue' }, 'Redrive');
    redrive.addEventListener('click', async () => {
      redrive.disabled = true;
      message.textContent = `Redriving the ${s} dead-letter queue…`;
      try {
        const result = await act(`/api/dlq/${s}/redrive`);
        message.textContent = `${result.moved} message(s) moved back to the ${s} queue.`;
      } catch (err) {
        message.textContent = err.message;
        redrive.disabled = false;
      }
    });
    return h('tr', { 'data-stage': s, class: q.error ? 'error' : '' },
      h('th', {}, s),
      h('td', {}, String(q.visible)),
      h('td', {}, String(q.inFlight)),
      h('td', {}, String(q.delayed)),
      h('td', { class: q.dlqDepth ? 'warn' : '' }, q.dlqDepth === null ? '—' : String(q.dlqDepth)),
      h('td', {}, formatAge(q.oldestAgeSeconds)),
      h('td', {}, q.dlqDepth === null ? '' : redrive),
      q.error ? h('td', { class: 'error' }, q.error) : null);
  };
  clear(section).append(
    h('h2', {}, 'Queues'),
    h('table', { class: 'queue-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'stage'), h('th', {}, 'waiting'), h('th', {}, 'in flight'), h('th', {}, 'delayed'), h('th', {}, 'dead letters'), h('th', {}, 'oldest dead letter'), h('th', {}))),
      h('tbody', {}, stages.map(cells))),
    message,
  );
}

