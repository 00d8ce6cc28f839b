import { act, ApiError, bus, getJson, jobUrl } from './api.js';
import { audioView } from './audio.js';
import { csvView } from './csv.js';
import { badge, clear, formatDuration, formatTime, h } from './dom.js';
import { videoView } from './video.js';

const stages = ['ingestion', 'validation', 'analysis'];
const finalStates = new Set(['succeeded', 'failed', 'cancelled']);

/** A job's page: its status, stages as a timeline, outputs, actions, and what its kind produced. */
export async function jobView(main, jobId) {
  let job;
  try {
    job = await getJson(jobUrl(jobId));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      main.append(h('p', {}, h('a', { href: '#/' }, '← jobs')), h('p', { class: 'error' }, `No job ${jobId}.`));
      return () => {};
    }
    throw err;
  }
  const head = h('section', { class: 'job-head' });
  const timeline = h('section', { class: 'timeline' });
  const outputs = h('section', { class: 'outputs' });
  const kindView = h('section', { class: 'kind-view' });
  main.append(h('p', {}, h('a', { href: '#/' }, '← jobs')), head, timeline, outputs, kindView);

  let shownFinal = false;
  // Outlives every redraw: what an action said stays until the next action.
  const result = h('p', { class: 'action-result', role: 'status' });
  const render = (next) => {
    job = next;
    renderHead(head, job, refresh, result);
    renderTimeline(timeline, job);
    renderOutputs(outputs, job);
    // The kind's view is drawn once the job has its outputs: a player is not rebuilt on every poll.
    if (finalStates.has(job.state) && !shownFinal) {
      shownFinal = true;
      clear(kindView);
      showKind(kindView, job).catch((err) => kindView.append(h('p', { class: 'error' }, `Could not show the outputs: ${err.message}`)));
    } else if (!finalStates.has(job.state) && shownFinal) {
      shownFinal = false;
      clear(kindView);
    }
  };
  const refresh = () => getJson(jobUrl(jobId)).then(render).catch(() => undefined);
  render(job);

  // A running job is polled (its stages move without changing the job's state); an event for it refreshes at once.
  const timer = setInterval(() => !finalStates.has(job.state) && refresh(), 2000);
  const onJob = (e) => e.detail.jobId === jobId && refresh();
  bus.addEventListener('job', onJob);
  return () => {
    clearInterval(timer);
    bus.removeEventListener('job', onJob);
    kindView.dispatchEvent(new Event('leave'));
  };
}

function renderHead(section, job, refresh, result) {
  const action = (label, path, enabled, hint) => {
    const button = h('button', { type: 'button', disabled: !enabled, title: hint, 'data-action': path }, label);
    button.addEventListener('click', async () => {
      button.disabled = true;
      result.textContent = `${label}…`;
      try {
        const done = await act(`${jobUrl(job.jobId)}/${path}`);
        result.textContent = `${label}: done, the job became ${done.status.state}${done.optionsFrom === 'defaults' ? ' (with its kind\u2019s default options: its request was not kept)' : ''}.`;
        await refresh();
      } catch (err) {
        result.textContent = err.message;
        button.disabled = false;
      }
    });
    return button;
  };
  const facts = [
    ['kind', job.kind ?? 'not known yet'],
    ['input', `s3://${job.input.bucket}/${job.input.key}`],
    ['created', formatTime(job.createdAt)],
    ['updated', formatTime(job.updatedAt)],
    job.runAt ? ['runs at', formatTime(job.runAt)] : null,
  ].filter(Boolean);
  // Through h(): the parts a job does not have (no duplicate, no error) are left out, not written as text.
  clear(section).append(h('div', {},
    h('h1', {}, h('span', { class: 'mono' }, job.jobId), ' ', badge(job.state)),
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', { class: k === 'input' ? 'mono' : '' }, v)])),
    job.duplicateOf ? h('p', {}, 'A duplicate of ', h('a', { href: `#/jobs/${encodeURIComponent(job.duplicateOf)}` }, job.duplicateOf), ': no job of its own ran.') : null,
    job.error ? h('div', { class: 'error-box' }, h('strong', {}, `${job.error.code} at ${job.error.stage}`), h('p', {}, job.error.message)) : null,
    h('div', { class: 'actions' },
      action('Retry', 'retry', job.state === 'failed', 'run the failed job again (needs the token)'),
      action('Cancel', 'cancel', job.state === 'scheduled', 'cancel the scheduled job (needs the token)')),
    result,
  ));
}

function renderTimeline(section, job) {
  const longest = Math.max(1, ...stages.map((s) => job.stages[s]?.durationMs ?? 0));
  clear(section).append(
    h('h2', {}, 'Stages'),
    h('ol', { class: 'stages' },
      stages.map((name) => {
        const s = job.stages[name];
        if (!s) return h('li', { class: 'stage pending', 'data-stage': name }, h('span', { class: 'stage-name' }, name), h('span', { class: 'muted' }, 'not started'));
        const width = s.durationMs !== undefined ? Math.max(2, Math.round((100 * s.durationMs) / longest)) : s.progress ? s.progress.percent : 2;
        const bar = h('span', { class: `bar state-${s.state}` });
        bar.style.width = `${width}%`;
        return h('li', { class: 'stage', 'data-stage': name },
          h('span', { class: 'stage-name' }, name),
          badge(s.state),
          h('span', { class: 'bar-track' }, bar),
          h('span', { class: 'stage-facts' },
            `attempt${s.attempts === 1 ? '' : 's'} ${s.attempts}`,
            s.startedAt ? ` · started ${formatTime(s.startedAt)}` : '',
            s.durationMs !== undefined ? ` · ${formatDuration(s.durationMs)}` : '',
            s.progress ? ` · ${Math.round(s.progress.percent)}%${s.progress.estimatedFinishAt ? `, done about ${formatTime(s.progress.estimatedFinishAt)}` : ''}` : ''),
          s.error ? h('p', { class: 'stage-error' }, h('strong', {}, s.error.code), ' ', s.error.message) : null);
      })),
  );
}

function renderOutputs(section, job) {
  const names = Object.keys(job.links).sort();
  clear(section).append(
    h('h2', {}, 'Outputs'),
    names.length === 0
      ? h('p', { class: 'muted' }, 'None yet.')
      : h('ul', { class: 'output-links' }, names.map((name) => h('li', {}, h('a', { href: job.links[name], target: '_blank', rel: 'noopener' }, name)))),
  );
}

async function showKind(section, job) {
  if (job.kind === 'audio') return audioView(section, job);
  if (job.kind === 'csv') return csvView(section, job);
  if (job.kind === 'video') return videoView(section, job);
}
