import { getJson } from './api.js';
import { formatDuration, h } from './dom.js';

let libraries;

/** peaks.js's browser build takes Konva and WaveformData from the globals their own builds set: loaded once, in order. */
function loadLibraries() {
  const script = (src) =>
    new Promise((resolve, reject) => {
      const el = document.createElement('script');
      el.src = src;
      el.onload = resolve;
      el.onerror = () => reject(new Error(`could not load ${src}`));
      document.head.append(el);
    });
  libraries ??= script('/vendor/konva.js').then(() => script('/vendor/waveform-data.js')).then(() => script('/vendor/peaks.js'));
  libraries.catch(() => (libraries = undefined));
  return libraries;
}

const playable = ['audio/mp3-192k.mp3', 'audio/mp3-128k.mp3', 'audio/aac-128k.m4a', 'audio/opus-96k.ogg'];
const zoomLevels = [256, 512, 1024, 2048, 4096];

/** An audio job: the waveform (peaks.js over waveform.json) playing the mp3 or aac rendition, with zoom, and its analysis. */
export async function audioView(section, job) {
  const links = job.links;
  const waveform = links['waveform.json'];
  const source = playable.map((name) => links[name]).find(Boolean);
  if (!waveform || !source) {
    section.append(h('p', { class: 'muted' }, 'This job has no waveform or playable rendition.'));
    return;
  }
  const zoomview = h('div', { class: 'zoomview', id: 'zoomview' });
  const overview = h('div', { class: 'overview', id: 'overview' });
  const audio = h('audio', { src: source, preload: 'auto', id: 'player-audio' });
  const play = h('button', { type: 'button', id: 'play' }, 'Play');
  const zoomIn = h('button', { type: 'button', id: 'zoom-in', title: 'zoom in' }, '+');
  const zoomOut = h('button', { type: 'button', id: 'zoom-out', title: 'zoom out' }, '−');
  const clock = h('span', { class: 'mono clock' }, '0:00.0');
  section.append(h('h2', {}, 'Waveform'), zoomview, overview, h('div', { class: 'player-controls' }, play, zoomOut, zoomIn, clock, audio));

  await loadLibraries();
  const peaks = await new Promise((resolve, reject) =>
    window.peaks.init(
      {
        zoomview: { container: zoomview, waveformColor: '#3b82f6', playheadColor: '#111827' },
        overview: { container: overview, waveformColor: '#93c5fd' },
        mediaElement: audio,
        dataUri: { json: waveform },
        zoomLevels,
        keyboard: false,
        logger: (...args) => console.warn('peaks.js:', ...args),
      },
      (err, instance) => (err ? reject(err) : resolve(instance)),
    ),
  );
  const seconds = (t) => `${Math.floor(t / 60)}:${(t % 60).toFixed(1).padStart(4, '0')}`;
  audio.addEventListener('timeupdate', () => (clock.textContent = `${seconds(audio.currentTime)} / ${seconds(audio.duration || 0)}`));
  audio.addEventListener('play', () => (play.textContent = 'Pause'));
  audio.addEventListener('pause', () => (play.textContent = 'Play'));
  play.addEventListener('click', () => (audio.paused ? peaks.player.play() : peaks.player.pause()));
  zoomIn.addEventListener('click', () => peaks.zoom.zoomIn());
  zoomOut.addEventListener('click', () => peaks.zoom.zoomOut());
  section.addEventListener('leave', () => peaks.destroy(), { once: true });
  section.dataset.ready = 'true';

  if (links['analysis.json']) {
    const analysis = await getJson(links['analysis.json']).catch(() => undefined);
    if (analysis) section.append(h('h2', {}, 'Analysis'), facts(analysis));
  }
}

/** The report's plain values, one per line; nested objects by their path. */
function facts(report) {
  const rows = [];
  const walk = (value, path) => {
    if (value === null || typeof value !== 'object') rows.push([path, typeof value === 'number' && path.endsWith('durationMs') ? formatDuration(value) : String(value)]);
    else if (Array.isArray(value)) rows.push([path, value.length === 0 ? 'none' : `${value.length} item${value.length === 1 ? '' : 's'}`]);
    else for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
  };
  walk(report, '');
  return h('dl', { class: 'report' }, rows.slice(0, 40).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}
