/**
 * The one key layout of what the worker writes (contract section 4): everything a job writes lies under
 * `jobs/<jobId>/`. Every writer and reader (the stages, the status store, the CLI, the demo) and the
 * input scope, which never reads under it, take the layout from here.
 */
export const outputsPrefix = 'jobs/';

export function jobPrefix(jobId: string): string {
  return `${outputsPrefix}${jobId}/`;
}

/** The key of the output `name` (e.g. `waveform.json`, `audio/mp3-192k.mp3`) of a job. */
export function jobKey(jobId: string, name: string): string {
  return `${jobPrefix(jobId)}${name}`;
}

export const statusKey = (jobId: string): string => jobKey(jobId, 'status.json');

export function isOutputKey(key: string): boolean {
  return key.startsWith(outputsPrefix);
}

/** stageline's own records under jobs/ (no jobId has a dot, and jobs/ is never input). */
const ownPrefix = `${outputsPrefix}.stageline/`;

/** The claim of a unique key (contract section 7), by the key's SHA-256 in hex. */
export const uniqueClaimKey = (keyHash: string): string => `${ownPrefix}unique/${keyHash}.json`;

/** A periodic schedule's record: its last tick and the job it made. */
export const scheduleStateKey = (name: string): string => `${ownPrefix}schedules/${name}.json`;

/** Where the start-up check of conditional writes writes twice: stageline's own (no jobId has a dot), never input. */
export const conditionalWriteProbeKey = `${ownPrefix}conditional-write-probe.json`;

/**
 * A job's request as its ingestion received it (jobId, input, kind, the options of the kind it named):
 * what the dashboard's retry sends again. stageline's own record, outside the job's folder (which
 * holds only status.json and outputs), written when the job starts: a scheduled job has none yet.
 */
export const jobRequestKey = (jobId: string): string => `${ownPrefix}requests/${jobId}.json`;

/**
 * The job index (docs/dashboard.md): one empty object per job and scope whose name carries what a
 * listing shows and filters on, so a LIST page answers a page of jobs without reading any status.json.
 * Names sort newest first (inverted creation time); `all/` holds every job, `by-state/<state>/` the jobs
 * in that state. Layout: `<scope>/<inverted ms, 13 digits>/<jobId>/<state>/<kind or ->/<bucket>/<key>`,
 * bucket and key percent-encoded (no `/` or `.` left in them), the key cut to fit S3's 1,024 bytes and
 * then marked with a leading `~` (a reader takes the whole key from status.json).
 */
export const jobIndexPrefix = `${ownPrefix}index/`;

/** What an index entry says of a job: enough for a row of the job list. */
export interface JobIndexEntry {
  jobId: string;
  state: string;
  kind?: string | undefined;
  input: { bucket: string; key: string };
  createdAt: string;
}

const invertedBase = 9_999_999_999_999;
const maxKeyBytes = 1024;
/** Every character that is not a plain name character, `.` and `~` included: an encoded segment is never `.` or `..`. */
const encodeSegment = (s: string): string => encodeURIComponent(s).replace(/[.!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The prefix of one scope: every job, or the jobs in one state. */
export function jobIndexScope(state?: string): string {
  return state === undefined ? `${jobIndexPrefix}all/` : `${jobIndexPrefix}by-state/${encodeSegment(state)}/`;
}

/** The part of an entry's name that is the same in every entry of one job in one scope. */
function jobIndexStem(scope: string, entry: Pick<JobIndexEntry, 'jobId' | 'createdAt'>): string {
  const ms = Date.parse(entry.createdAt);
  const inverted = String(invertedBase - (Number.isFinite(ms) ? Math.max(0, Math.min(ms, invertedBase)) : 0)).padStart(13, '0');
  return `${scope}${inverted}/${entry.jobId}/`;
}

/** The entry's name in one scope. */
export function jobIndexKey(scope: string, entry: JobIndexEntry): string {
  const head = `${jobIndexStem(scope, entry)}${encodeSegment(entry.state)}/${entry.kind ? encodeSegment(entry.kind) : '-'}/${encodeSegment(entry.input.bucket)}/`;
  const key = encodeSegment(entry.input.key);
  if (head.length + key.length <= maxKeyBytes) return head + key;
  // Cut at an escape's start, never inside one; the reader knows the key is incomplete from the `~`.
  let cut = key.slice(0, Math.max(0, maxKeyBytes - head.length - 1));
  cut = cut.replace(/%[0-9A-F]?$/, '');
  return `${head}~${cut}`;
}

/** The entry's names in every scope it belongs to: all jobs, and its state's. */
export function jobIndexKeys(entry: JobIndexEntry): string[] {
  return [jobIndexKey(jobIndexScope(), entry), jobIndexKey(jobIndexScope(entry.state), entry)];
}

/**
 * Where a listing continues after a job: past every entry that job has in the scope (a crash between
 * writing a job's new entry and deleting its old one leaves two, side by side). `/` sorts just below `0`.
 */
export function jobIndexAfter(scope: string, entry: Pick<JobIndexEntry, 'jobId' | 'createdAt'>): string {
  return `${jobIndexStem(scope, entry).slice(0, -1)}0`;
}

/** Decodes an entry's name; undefined for a name that is not one (a stray object under the prefix). */
export function parseJobIndexKey(scope: string, name: string): (JobIndexEntry & { keyComplete: boolean }) | undefined {
  if (!name.startsWith(scope)) return undefined;
  const parts = name.slice(scope.length).split('/');
  if (parts.length !== 6) return undefined;
  const [inverted, jobId, state, kind, bucket, key] = parts as [string, string, string, string, string, string];
  if (!/^\d{13}$/.test(inverted) || !/^[A-Za-z0-9_-]{1,64}$/.test(jobId)) return undefined;
  const keyComplete = !key.startsWith('~');
  const decodedKey = decodeCut(keyComplete ? key : key.slice(1));
  const decodedState = decodeCut(state);
  const decodedBucket = decodeCut(bucket);
  if (decodedKey === undefined || decodedState === undefined || decodedBucket === undefined) return undefined;
  return {
    jobId,
    state: decodedState,
    ...(kind === '-' ? {} : { kind: decodeCut(kind) }),
    input: { bucket: decodedBucket, key: decodedKey },
    createdAt: new Date(invertedBase - Number(inverted)).toISOString(),
    keyComplete,
  };
}

/** Percent-decoding that survives a cut inside a multi-byte character: the incomplete tail is dropped. */
function decodeCut(s: string): string | undefined {
  for (let t = s; ; t = t.replace(/(%[0-9A-Fa-f]{2})$/, '')) {
    try {
      return decodeURIComponent(t);
    } catch {
      if (!/%[0-9A-Fa-f]{2}$/.test(t)) return undefined;
    }
  }
}
