import { outputText } from './api.js';
import { h } from './dom.js';

/** A video job: hls.js plays video/master.m3u8 (Safari plays HLS itself), with the poster and the thumbnail track as a strip to seek with. */
export async function videoView(section, job) {
  const links = job.links;
  const master = links['video/master.m3u8'];
  if (!master) {
    section.append(h('p', { class: 'muted' }, 'This job has no HLS ladder.'));
    return;
  }
  const video = h('video', { controls: true, preload: 'metadata', poster: links['video/poster.jpg'], id: 'player-video', playsinline: true });
  if (links['video/thumbnails.vtt']) video.append(h('track', { kind: 'metadata', label: 'thumbnails', src: links['video/thumbnails.vtt'], default: true }));
  const strip = h('div', { class: 'thumbnails', id: 'thumbnails' });
  section.append(h('h2', {}, 'Video'), video, strip);

  if (video.canPlayType('application/vnd.apple.mpegurl') && !window.MediaSource) {
    video.src = master;
  } else {
    const { default: Hls } = await import('/vendor/hls.mjs');
    if (!Hls.isSupported()) {
      section.append(h('p', { class: 'error' }, 'This browser cannot play HLS (no Media Source Extensions).'));
      return;
    }
    // No worker: it would be a blob: script, which the page's CSP does not run.
    const hls = new Hls({ enableWorker: false });
    hls.loadSource(new URL(master, location.href).href);
    hls.attachMedia(video);
    section.addEventListener('leave', () => hls.destroy(), { once: true });
  }
  section.dataset.ready = 'true';
  if (links['video/thumbnails.vtt']) await thumbnailStrip(strip, links['video/thumbnails.vtt'], video);
}

/** The WebVTT thumbnail track's cues (`sheet.jpg#xywh=x,y,w,h`) drawn from the sprite sheet; a click seeks there. */
async function thumbnailStrip(strip, vttUrl, video) {
  const { text } = await outputText(vttUrl);
  const base = new URL(vttUrl, location.href);
  const cue = /(\d+:)?(\d+):(\d+(?:\.\d+)?)\s+-->\s+[^\n]+\n([^\n#]+)#xywh=(\d+),(\d+),(\d+),(\d+)/g;
  for (const m of text.matchAll(cue)) {
    const start = Number(m[1] ? m[1].slice(0, -1) : 0) * 3600 + Number(m[2]) * 60 + Number(m[3]);
    const sheet = new URL(m[4].trim(), base);
    if (sheet.origin !== location.origin) continue;
    const [x, y, w, hgt] = [m[5], m[6], m[7], m[8]].map(Number);
    const thumb = h('button', { type: 'button', class: 'thumb', title: `${start.toFixed(1)} s` });
    Object.assign(thumb.style, { width: `${w}px`, height: `${hgt}px`, backgroundImage: `url("${sheet.pathname}")`, backgroundPosition: `-${x}px -${y}px` });
    thumb.addEventListener('click', () => {
      video.currentTime = start;
    });
    strip.append(thumb);
  }
}
