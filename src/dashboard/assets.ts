import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** The page's own files: web/ at the package root (next to src/ and dist/, so both find it two levels up). */
const webDir = fileURLToPath(new URL('../../web/', import.meta.url));
const pageFiles: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'api.js': 'text/javascript; charset=utf-8',
  'dom.js': 'text/javascript; charset=utf-8',
  'list.js': 'text/javascript; charset=utf-8',
  'job.js': 'text/javascript; charset=utf-8',
  'audio.js': 'text/javascript; charset=utf-8',
  'csv.js': 'text/javascript; charset=utf-8',
  'video.js': 'text/javascript; charset=utf-8',
};

/**
 * The front-end libraries, from the installed npm packages (runtime dependencies, so the page works
 * with no internet and in the image): their own prebuilt browser files, no bundler. peaks.js's
 * "ext" build takes Konva and WaveformData from the globals their UMD builds set; hls.js ships an
 * ES module.
 */
const require = createRequire(import.meta.url);
const vendorFiles: Record<string, { pkg: string; file: string }> = {
  'konva.js': { pkg: 'konva', file: 'konva.min.js' },
  'waveform-data.js': { pkg: 'waveform-data', file: 'dist/waveform-data.min.js' },
  'peaks.js': { pkg: 'peaks.js', file: 'dist/peaks.ext.min.js' },
  'hls.mjs': { pkg: 'hls.js', file: 'dist/hls.min.mjs' },
};

const cache = new Map<string, Promise<Asset>>();

/** A file of the page (`/`, `/assets/<name>`) or a library (`/vendor/<name>`); undefined for any other name. */
export function asset(kind: 'page' | 'vendor', name: string): Promise<Asset> | undefined {
  const path = kind === 'page' ? (pageFiles[name] ? join(webDir, name) : undefined) : vendorPath(name);
  if (!path) return undefined;
  const contentType = kind === 'page' ? pageFiles[name]! : name.endsWith('.mjs') || name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'application/octet-stream';
  let found = cache.get(path);
  if (!found) {
    found = readFile(path).then((body) => ({ body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` }));
    cache.set(path, found);
    found.catch(() => cache.delete(path));
  }
  return found;
}

function vendorPath(name: string): string | undefined {
  const file = vendorFiles[name];
  if (!file) return undefined;
  return join(dirname(require.resolve(`${file.pkg}/package.json`)), file.file);
}
