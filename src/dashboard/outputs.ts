import { extname } from 'node:path';
import { jobKey, jobPrefix } from '../contract/job-keys.js';
import type { ByteRange } from '../storage/object-download.js';

/**
 * Output downloads: `/api/jobs/{jobId}/outputs/{name}` serves `jobs/<jobId>/<name>` and nothing else.
 * `name` comes from the raw request path, segment by segment: an empty, `.` or `..` segment, or one
 * that decodes to a `/`, `\`, NUL or other control character, is refused, so no name reaches a key
 * outside the job's own prefix (some S3 clients would normalise `a/../b` into another key).
 */
export function outputKey(jobId: string, rawSegments: readonly string[]): string | undefined {
  if (rawSegments.length === 0) return undefined;
  const segments: string[] = [];
  for (const raw of rawSegments) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (segment === '' || segment === '.' || segment === '..' || /[/\\\u0000-\u001f\u007f]/.test(segment)) return undefined;
    segments.push(segment);
  }
  const key = jobKey(jobId, segments.join('/'));
  return key.startsWith(jobPrefix(jobId)) ? key : undefined;
}

/** Where the dashboard serves an output, from its key; undefined for a key outside the job's prefix. */
export function outputLink(jobId: string, key: string): string | undefined {
  const prefix = jobPrefix(jobId);
  if (!key.startsWith(prefix) || key.length === prefix.length) return undefined;
  return `/api/jobs/${jobId}/outputs/${key.slice(prefix.length).split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * One range of `Range: bytes=…`. A header with several ranges, another unit or bad syntax is ignored
 * (RFC 9110 allows it: the whole object is served); `bytes=5-2` is bad syntax.
 */
export function parseRange(header: string | undefined): ByteRange | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (!m) return undefined;
  const [, from, to] = m as unknown as [string, string, string];
  if (from === '' && to === '') return undefined;
  if (from === '') return { suffix: Number(to) };
  const start = Number(from);
  if (to === '') return { start };
  const end = Number(to);
  if (end < start || !Number.isSafeInteger(end)) return undefined;
  return { start, end };
}

const byExtension: Record<string, string> = {
  '.json': 'application/json',
  '.jsonl': 'application/x-ndjson',
  '.csv': 'text/csv; charset=utf-8',
  '.mp3': 'audio/mpeg',
  '.m4a': 'audio/mp4',
  '.aac': 'audio/aac',
  '.ogg': 'audio/ogg',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.ts': 'video/mp2t',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.vtt': 'text/vtt; charset=utf-8',
};

/** Types a browser would run as a document in the dashboard's origin: an output never gets one. */
const active = /^(text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml|text\/javascript|application\/javascript|application\/ecmascript)\b/i;

/** The type an output is served with: the one stored with it (the task that wrote it set it), else by its extension. */
export function outputContentType(key: string, stored: string | undefined): string {
  const chosen = stored && !/^(application\/octet-stream|binary\/octet-stream)\b/i.test(stored) ? stored : byExtension[extname(key).toLowerCase()];
  return chosen && !active.test(chosen) ? chosen : 'application/octet-stream';
}
