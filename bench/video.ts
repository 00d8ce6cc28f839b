/**
 * `npm run bench:video [-- --minutes=10] [--rounds=1] [--fps=30] [--noise=8]` (issue 15 item 9)
 *
 * Generates a 1920x1080 H.264 source (testsrc2, moving, with temporal grain `noise=alls=N:allf=t` so the
 * encoder has work like real footage; `--noise=0` for none) with a stereo AAC tone track, once, in a temp
 * dir, uploads it to an in-process fauxqs (not timed), then measures side by side in one run, the order of
 * the contenders rotated each round (medians over rounds):
 * - A, hand-written: ONE literal ffmpeg command line (below, not built by stageline's code) writing the
 *   same default ladder (1080p, 720p, 480p, 360p, 240p; libx264 veryfast, CRF 23 under each rung's
 *   maxrate/bufsize, one GOP per 4 s segment with forced keyframes, AAC 128k, fMP4 HLS) to a local dir.
 *   No upload, no probe, no poster/thumbnails, no master playlist.
 * - B, stageline: the video job's validation stage, then its analysis stage, through runStageTasks as the
 *   worker runs them (probe; then ladder + stills + analysis concurrently): each stage downloads the input
 *   from fauxqs, and every output is uploaded to fauxqs (timed: that is stageline's work).
 * Wall time; CPU time of this process plus its reaped children (/proc/self/stat utime+stime+cutime+cstime).
 * Note B's CPU includes the in-process S3 emulator's side of every transfer.
 * Peak RSS: see `rssMethod` below. Per rung: measured bit rates against the rung's target.
 */
import { execFile } from 'node:child_process';
import { createReadStream, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { createAwsClients } from '../src/aws/clients.js';
import { jobKey, jobPrefix } from '../src/contract/job-keys.js';
import { loadConfig } from '../src/contract/env.js';
import { startEmulator } from '../src/cli/emulator.js';
import { resolveFfmpegBinaries } from '../src/media/ffmpeg-binaries.js';
import { TaskRegistry } from '../src/pipeline/registry.js';
import { runStageTasks } from '../src/pipeline/task-runner.js';
import type { Task } from '../src/pipeline/task.js';
import { ObjectStore } from '../src/storage/object-store.js';
import { JobMessage } from '../src/tasks/index.js';
import { VideoAnalysisTask } from '../src/tasks/video/analysis-task.js';
import { createVideoToolkit } from '../src/tasks/video/ffmpeg/create-toolkit.js';
import type { VideoToolkit } from '../src/tasks/video/ffmpeg/toolkit.js';
import { videoKind } from '../src/tasks/video/kind.js';
import { VideoLadderTask } from '../src/tasks/video/ladder-task.js';
import { measureBandwidth, parseMediaPlaylist } from '../src/tasks/video/ladder/playlists.js';
import { segmentSeconds, selectRungs, type PlannedRung } from '../src/tasks/video/ladder/rungs.js';
import { VideoProbeTask } from '../src/tasks/video/probe-task.js';
import { VideoStillsTask } from '../src/tasks/video/stills-task.js';

const run = promisify(execFile);
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string | undefined]));
const minutes = Number(args.get('minutes') ?? 10);
const rounds = Number(args.get('rounds') ?? 1);
const fps = Number(args.get('fps') ?? 30);
const noise = Number(args.get('noise') ?? 8);
for (const [name, v] of [['minutes', minutes], ['rounds', rounds], ['fps', fps], ['noise', noise]] as const) {
  if (!Number.isFinite(v) || v < 0 || (name !== 'noise' && v <= 0)) throw new Error(`--${name}: not a usable number`);
}
const seconds = Math.round(minutes * 60 * 1000) / 1000;
const width = 1920;
const height = 1080;

// Raised so that a slow (or shared) machine does not hit the per-run timeout: that is not what is measured.
const config = loadConfig({ VIDEO_RUN_TIMEOUT_RATIO: '100' });
const bins = resolveFfmpegBinaries(process.env);
const logger = pino({ level: 'silent' });

/**
 * Contender A, written out by hand: what a user would type for this ladder. IN, OUT and GOP are the only
 * substitutions (the source, the output dir, and frames per 4 s segment: 120 at 30 fps). The audio is the
 * source's 48 kHz stereo, hence `-ac 2 -ar 48000`. Split on whitespace (nothing in it has a space).
 */
const handWritten = `
ffmpeg -nostdin -hide_banner -loglevel error -y -i IN
  -filter_complex [0:v:0]split=5[s0][s1][s2][s3][s4];[s0]scale=1920:1080,setsar=1,format=yuv420p[v0];[s1]scale=1280:720,setsar=1,format=yuv420p[v1];[s2]scale=854:480,setsar=1,format=yuv420p[v2];[s3]scale=640:360,setsar=1,format=yuv420p[v3];[s4]scale=426:240,setsar=1,format=yuv420p[v4]
  -map [v0] -map 0:a:0 -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -crf 23 -maxrate 5000k -bufsize 10000k -g GOP -keyint_min GOP -sc_threshold 0 -force_key_frames expr:gte(t,n_forced*4) -c:a aac -b:a 128k -ac 2 -ar 48000 -f hls -hls_time 4 -hls_playlist_type vod -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 -hls_segment_filename OUT/1080p/seg_%05d.m4s OUT/1080p/index.m3u8
  -map [v1] -map 0:a:0 -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -crf 23 -maxrate 2800k -bufsize 5600k -g GOP -keyint_min GOP -sc_threshold 0 -force_key_frames expr:gte(t,n_forced*4) -c:a aac -b:a 128k -ac 2 -ar 48000 -f hls -hls_time 4 -hls_playlist_type vod -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 -hls_segment_filename OUT/720p/seg_%05d.m4s OUT/720p/index.m3u8
  -map [v2] -map 0:a:0 -c:v libx264 -preset veryfast -profile:v main -pix_fmt yuv420p -crf 23 -maxrate 1400k -bufsize 2800k -g GOP -keyint_min GOP -sc_threshold 0 -force_key_frames expr:gte(t,n_forced*4) -c:a aac -b:a 128k -ac 2 -ar 48000 -f hls -hls_time 4 -hls_playlist_type vod -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 -hls_segment_filename OUT/480p/seg_%05d.m4s OUT/480p/index.m3u8
  -map [v3] -map 0:a:0 -c:v libx264 -preset veryfast -profile:v main -pix_fmt yuv420p -crf 23 -maxrate 800k -bufsize 1600k -g GOP -keyint_min GOP -sc_threshold 0 -force_key_frames expr:gte(t,n_forced*4) -c:a aac -b:a 128k -ac 2 -ar 48000 -f hls -hls_time 4 -hls_playlist_type vod -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 -hls_segment_filename OUT/360p/seg_%05d.m4s OUT/360p/index.m3u8
  -map [v4] -map 0:a:0 -c:v libx264 -preset veryfast -profile:v main -pix_fmt yuv420p -crf 23 -maxrate 400k -bufsize 800k -g GOP -keyint_min GOP -sc_threshold 0 -force_key_frames expr:gte(t,n_forced*4) -c:a aac -b:a 128k -ac 2 -ar 48000 -f hls -hls_time 4 -hls_playlist_type vod -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 -hls_segment_filename OUT/240p/seg_%05d.m4s OUT/240p/index.m3u8
`;
const handRungNames = ['1080p', '720p', '480p', '360p', '240p'];
const gop = String(Math.max(1, Math.round(fps * segmentSeconds)));
const handArgv = (input: string, out: string) =>
  handWritten.trim().split(/\s+/).slice(1).map((a) => a.replace(/^IN$/, input).replace(/^OUT\//, `${out}/`).replace(/^GOP$/, gop));

/** The literal command must make the ladder stageline plans for this source: checked, not assumed. */
function checkHandWritten(plan: readonly PlannedRung[]): void {
  const problems: string[] = [];
  if (plan.map((r) => r.name).join() !== handRungNames.join()) problems.push(`stageline plans ${plan.map((r) => r.name).join()}, the command makes ${handRungNames.join()}`);
  plan.forEach((r, i) => {
    for (const needle of [
      `[s${i}]scale=${r.width}:${r.height},setsar=1,format=yuv420p[v${i}]`,
      `-map [v${i}] -map 0:a:0 -c:v libx264 -preset veryfast -profile:v ${r.profile} -pix_fmt yuv420p -crf 23 -maxrate ${r.maxrateKbps}k -bufsize ${2 * r.maxrateKbps}k`,
      `n_forced*${segmentSeconds})`,
      `-hls_time ${segmentSeconds} -hls_playlist_type vod -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 -hls_segment_filename OUT/${r.name}/seg_%05d.m4s OUT/${r.name}/index.m3u8`,
    ]) {
      if (!handWritten.replace(/\s+/g, ' ').includes(needle)) problems.push(`${r.name}: the command lacks "${needle}"`);
    }
  });
  if (problems.length > 0) throw new Error(`the hand-written command does not match stageline's plan:\n${problems.join('\n')}`);
}

/** CPU seconds of this process and its reaped children, from /proc/self/stat (clock ticks, 100 Hz). */
function cpuSeconds(): number {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) / 100;
}

const rssMethod =
  'node: VmHWM of /proc/self/status after resetting it (echo 5 > /proc/self/clear_refs) before each contender, so it is that contender\'s peak ' +
  '(fauxqs runs in this process: it holds the uploaded source and every output in memory); ' +
  'ffmpeg/ffprobe: every 500 ms the direct children of this process (/proc/self/task/*/children) are read from /proc/<pid>/status: ' +
  'the largest VmHWM seen of one child, and the largest sum of VmRSS of the children running at once.';

interface Rss {
  nodePeakKb: number;
  childPeakKb: number;
  childPeakWhat: string;
  childrenSumPeakKb: number;
}

function procStatus(pid: string): { name: string; rssKb: number; hwmKb: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { name: /^Name:\s+(.*)$/m.exec(text)?.[1] ?? '?', rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
  } catch {
    return undefined; // exited between the listing and the read
  }
}

function childPids(): string[] {
  const pids: string[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      pids.push(...readFileSync(`/proc/self/task/${tid}/children`, 'utf8').split(/\s+/).filter(Boolean));
    } catch {
      // thread gone
    }
  }
  return pids;
}

let hwmResettable = true;
function watchRss(): { stop(): Rss } {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    hwmResettable = false;
  }
  const rss: Rss = { nodePeakKb: 0, childPeakKb: 0, childPeakWhat: '-', childrenSumPeakKb: 0 };
  const sample = () => {
    let sum = 0;
    for (const pid of childPids()) {
      const s = procStatus(pid);
      if (!s || !/ffmpeg|ffprobe/.test(s.name)) continue;
      sum += s.rssKb;
      if (s.hwmKb > rss.childPeakKb) {
        rss.childPeakKb = s.hwmKb;
        rss.childPeakWhat = s.name;
      }
    }
    rss.childrenSumPeakKb = Math.max(rss.childrenSumPeakKb, sum);
    rss.nodePeakKb = Math.max(rss.nodePeakKb, procStatus('self')?.rssKb ?? 0);
  };
  const timer = setInterval(sample, 500);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const self = procStatus('self');
      rss.nodePeakKb = hwmResettable ? (self?.hwmKb ?? rss.nodePeakKb) : Math.max(rss.nodePeakKb, process.resourceUsage().maxRSS);
      return rss;
    },
  };
}

/** Intervals of what stageline did (ffmpeg runs by name, ffprobe, store transfers), for the breakdown of B. */
interface Span {
  what: string;
  t0: number;
  t1: number;
}
const spans: Span[] = [];
async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await work();
  } finally {
    spans.push({ what, t0, t1: performance.now() });
  }
}
/** Seconds covered by the union of the spans matching `what` within [from, to]. */
function covered(from: number, to: number, what: (s: string) => boolean): number {
  const xs = spans
    .filter((s) => what(s.what) && s.t1 > from && s.t0 < to)
    .map((s) => [Math.max(s.t0, from), Math.min(s.t1, to)] as const)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of xs) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total / 1000;
}

interface Sample {
  wall: number;
  cpu: number;
  rss: Rss;
  t0: number;
  t1: number;
}
async function measure(work: () => Promise<unknown>): Promise<Sample> {
  const watch = watchRss();
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  let rss: Rss;
  try {
    await work();
  } finally {
    rss = watch.stop();
  }
  const t1 = performance.now();
  return { wall: (t1 - t0) / 1000, cpu: cpuSeconds() - cpu0, rss, t0, t1 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
const kbps = (bps: number) => `${(bps / 1000).toFixed(0)}`;
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;

async function versionLine(bin: string): Promise<string> {
  const { stdout } = await run(bin, ['-version']);
  return stdout.split('\n')[0] ?? '?';
}

const t00 = performance.now();
console.log(`stageline bench:video — ${new Date().toISOString()}`);
console.log(`node ${process.version}; ${await versionLine(bins.ffmpeg)} (${bins.ffmpeg}); ffprobe ${bins.ffprobe}`);
console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}); load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

const dir = await mkdtemp(join(tmpdir(), 'stageline-bench-video-'));
const emulator = await startEmulator();
const { s3 } = createAwsClients({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: emulator.endpoint });
Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
const store = new ObjectStore(s3, emulator.bucket);
try {
  // Every store transfer of stageline, timed for the breakdown (the bench's own go around this).
  const download = store.downloadToFile.bind(store);
  const upload = store.upload.bind(store);
  const benchUpload = upload;
  store.downloadToFile = (ref, path, signal) => timed('download', () => download(ref, path, signal));
  store.upload = (key, body, type, signal) => timed('upload', () => upload(key, body, type, signal));

  // The real toolkit, its runs timed by name (a wrapper that only records when each run starts and ends).
  const realKit = createVideoToolkit(config);
  const kit: VideoToolkit = {
    ...realKit,
    ffmpeg: { run: (r) => timed(`ffmpeg:${r.what}`, () => realKit.ffmpeg.run(r)) },
    prober: { probe: (path, signal) => timed('ffprobe', () => realKit.prober.probe(path, signal)) },
  };
  const registrations: { stage: 'validation' | 'analysis'; task: Task }[] = [
    { stage: 'validation', task: new VideoProbeTask(kit) },
    { stage: 'analysis', task: new VideoLadderTask(kit) },
    { stage: 'analysis', task: new VideoStillsTask(kit) },
    { stage: 'analysis', task: new VideoAnalysisTask(kit) },
  ];
  // The same tasks in the same stages as the worker's (src/tasks/video/kind.ts), or the bench is stale.
  const describe = (rs: readonly { stage: string; task: Task }[]) => rs.map((r) => `${r.stage}:${r.task.name}`).join(' ');
  if (describe(registrations) !== describe(videoKind.tasks(config))) {
    throw new Error(`bench/video.ts registers ${describe(registrations)}; the video kind has ${describe(videoKind.tasks(config))}`);
  }
  const registry = new TaskRegistry(registrations.map((r) => ({ ...r, kind: 'video' as const })));

  const plan = selectRungs(width, height, undefined);
  checkHandWritten(plan);

  const makeSource = async (path: string, secs: number) => {
    const vf = noise > 0 ? ['-vf', `noise=alls=${noise}:allf=t`] : [];
    await run(bins.ffmpeg, [
      '-nostdin', '-loglevel', 'error',
      '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}:duration=${secs}`,
      '-f', 'lavfi', '-i', `aevalsrc=0.3*sin(2*PI*440*t)|0.3*sin(2*PI*660*t):s=48000:d=${secs}`,
      ...vf,
      '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '8M', '-maxrate', '8M', '-bufsize', '16M', '-pix_fmt', 'yuv420p', '-g', String(2 * fps),
      '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-t', String(secs), '-y', path,
    ], { maxBuffer: 16 * 1024 * 1024 });
  };
  const genStart = performance.now();
  const input = join(dir, 'source.mp4');
  await makeSource(input, seconds);
  const genSeconds = (performance.now() - genStart) / 1000;
  const inputBytes = (await stat(input)).size;
  console.log(
    `source: ${seconds} s ${width}x${height} ${fps} fps, testsrc2${noise > 0 ? ` + noise=alls=${noise}:allf=t (temporal grain)` : ' (no noise)'}, ` +
      `H.264 ultrafast at 8 Mbit/s (maxrate 8M), AAC 128k stereo 48 kHz tones; ${(inputBytes / 1e6).toFixed(1)} MB; generated in ${genSeconds.toFixed(1)} s (not part of the comparison)`,
  );
  const key = 'uploads/bench/source.mp4';
  const warmKey = 'uploads/bench/warm.mp4';
  await benchUpload(key, createReadStream(input), 'video/mp4');

  let jobs = 0;
  const stageline = async (inputKey: string) => {
    const jobId = `bench-video-${++jobs}`;
    const job = JobMessage.parse({ jobId, kind: 'video', input: { bucket: emulator.bucket, key: inputKey } });
    const mark: Record<string, number> = { start: performance.now() };
    const validated = await runStageTasks({ registry, store, tmpRoot: dir }, 'validation', job, new AbortController().signal, logger);
    mark.validated = performance.now();
    const outputs = await runStageTasks({ registry, store, tmpRoot: dir }, 'analysis', { ...job, outputs: { ...job.outputs, ...validated } }, new AbortController().signal, logger);
    mark.end = performance.now();
    return { jobId, outputs, mark };
  };
  const handOut = (round: number | string) => join(dir, `hand-${round}`);
  const handWrittenRun = async (source: string, out: string) => {
    // `mkdir -p OUT/{1080p,720p,…}` as the user would; the hls muxer does not create them.
    for (const name of handRungNames) await mkdir(join(out, name), { recursive: true });
    await run(bins.ffmpeg, handArgv(source, out), { maxBuffer: 16 * 1024 * 1024 });
  };
  const deleteJob = async (jobId: string) => {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: emulator.bucket, Prefix: jobPrefix(jobId) }));
    let bytes = 0;
    for (const o of listed.Contents ?? []) {
      bytes += o.Size ?? 0;
      await s3.send(new DeleteObjectCommand({ Bucket: emulator.bucket, Key: o.Key }));
    }
    return { objects: listed.KeyCount ?? 0, bytes };
  };

  // Warm-up on a 2 s clip: fluent-ffmpeg's one-time capability queries, the JIT, the AWS SDK's code paths.
  const warm = join(dir, 'warm.mp4');
  await makeSource(warm, 2);
  await benchUpload(warmKey, createReadStream(warm), 'video/mp4');
  await handWrittenRun(warm, handOut('warm'));
  await rm(handOut('warm'), { recursive: true, force: true });
  const warmRun = await stageline(warmKey);
  await deleteJob(warmRun.jobId);
  spans.length = 0;

  console.log(`\nA, hand-written (one ffmpeg, local dir; GOP=${gop}):\n${handWritten.trim().replace(/^ffmpeg/, bins.ffmpeg)}\n`);
  console.log(`B, stageline: validation stage (${registrations.filter((r) => r.stage === 'validation').map((r) => r.task.name).join(', ')}) then analysis stage (${registrations.filter((r) => r.stage === 'analysis').map((r) => r.task.name).join(' + ')}, concurrently) via runStageTasks, input from and outputs to in-process fauxqs; VIDEO_RUN_TIMEOUT_RATIO=100\n`);

  const samples = { A: [] as Sample[], B: [] as Sample[] };
  type Rates = Map<string, { average: number; peak: number; segments: number; bytes: number }>;
  let ratesA: Rates = new Map();
  let ratesB: Rates = new Map();
  let stored = { objects: 0, bytes: 0 };
  for (let round = 0; round < rounds; round++) {
    const order: ('A' | 'B')[] = round % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
    const notes: string[] = [];
    for (const who of order) {
      if (who === 'A') {
        const out = handOut(round);
        const s = await measure(() => handWrittenRun(input, out));
        samples.A.push(s);
        // Measured as stageline measures its own (segments' sizes over their durations), not timed.
        ratesA = new Map();
        for (const name of handRungNames) {
          const playlist = parseMediaPlaylist(await readFile(join(out, name, 'index.m3u8'), 'utf8'));
          const sized = await Promise.all(playlist.segments.map(async (seg) => ({ ...seg, bytes: (await stat(join(out, name, seg.uri))).size })));
          const bw = measureBandwidth(sized, segmentSeconds);
          ratesA.set(name, { ...bw, segments: sized.length, bytes: sized.reduce((n, x) => n + x.bytes, 0) });
        }
        await rm(out, { recursive: true, force: true });
        notes.push(`A ${s.wall.toFixed(2)} s`);
      } else {
        let result: Awaited<ReturnType<typeof stageline>> | undefined;
        const s = await measure(async () => (result = await stageline(key)));
        samples.B.push(s);
        if (!result) throw new Error('stageline returned nothing');
        const { mark, outputs, jobId } = result;
        const ladder = spans.find((x) => x.what.startsWith('ffmpeg:video ladder') && x.t0 >= s.t0 && x.t1 <= s.t1);
        if (!ladder) throw new Error('no ladder run recorded');
        const inStage = (from: number, to: number, what: (w: string) => boolean) => covered(from, to, what).toFixed(2);
        const validated = mark.validated as number;
        const end = mark.end as number;
        notes.push(
          `B ${s.wall.toFixed(2)} s = validation ${((validated - s.t0) / 1000).toFixed(2)} s (download ${inStage(s.t0, validated, (w) => w === 'download')}, ffprobe ${inStage(s.t0, validated, (w) => w === 'ffprobe')}, decode check ${inStage(s.t0, validated, (w) => w === 'ffmpeg:decode check')})` +
            ` + analysis ${((end - validated) / 1000).toFixed(2)} s [before the ladder ffmpeg starts ${((ladder.t0 - validated) / 1000).toFixed(2)} s (download ${inStage(validated, ladder.t0, (w) => w === 'download')}, ffprobe ${inStage(validated, ladder.t0, (w) => w === 'ffprobe')});` +
            ` ladder ffmpeg ${((ladder.t1 - ladder.t0) / 1000).toFixed(2)} s, stills ffmpeg runs beside it ${inStage(validated, end, (w) => /^ffmpeg:(poster|thumbnail)/.test(w))} s;` +
            ` after the ladder ffmpeg ${((end - ladder.t1) / 1000).toFixed(2)} s (uploading ${inStage(ladder.t1, end, (w) => w === 'upload')} s, the rest: playlists, temp removal)]`,
        );
        // Untimed: read the master playlist from fauxqs, then drop the job's outputs so fauxqs does not grow.
        const masterKey = outputs['video/master.m3u8'];
        if (!masterKey) throw new Error(`no video/master.m3u8 in ${Object.keys(outputs).join(', ')}`);
        const master = (await store.readHead({ bucket: emulator.bucket, key: masterKey }, 64 * 1024)).toString('utf8');
        ratesB = new Map();
        const lines = master.split('\n');
        lines.forEach((line, i) => {
          const m = /^#EXT-X-STREAM-INF:BANDWIDTH=(\d+),AVERAGE-BANDWIDTH=(\d+)/.exec(line);
          const uri = lines[i + 1] ?? '';
          if (m) ratesB.set(uri.split('/')[0] ?? uri, { peak: Number(m[1]), average: Number(m[2]), segments: 0, bytes: 0 });
        });
        for (const [name, r] of ratesB) {
          const listed = await s3.send(new ListObjectsV2Command({ Bucket: emulator.bucket, Prefix: jobKey(jobId, `video/${name}/seg_`) }));
          r.segments = listed.KeyCount ?? 0;
          r.bytes = (listed.Contents ?? []).reduce((n, o) => n + (o.Size ?? 0), 0);
        }
        stored = await deleteJob(jobId);
      }
    }
    console.log(`round ${round + 1} (${order.join(' then ')}): ${notes.join('; ')}`);
  }

  const wallA = median(samples.A.map((s) => s.wall));
  const wallB = median(samples.B.map((s) => s.wall));
  const cpuA = median(samples.A.map((s) => s.cpu));
  const cpuB = median(samples.B.map((s) => s.cpu));
  const peak = (xs: Sample[], f: (r: Rss) => number) => Math.max(...xs.map((s) => f(s.rss)));
  console.log(`\n| contender | wall s (median of ${rounds}) | CPU s (process + children) | cores busy | node peak RSS | largest ffmpeg/ffprobe peak RSS | children at once, peak RSS sum |`);
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [name, xs, wall, cpu] of [['A, hand-written ffmpeg', samples.A, wallA, cpuA], ['B, stageline (validation + analysis)', samples.B, wallB, cpuB]] as const) {
    console.log(
      `| ${name} | ${wall.toFixed(2)} | ${cpu.toFixed(2)} | ${(cpu / wall).toFixed(2)} | ${mb(peak(xs, (r) => r.nodePeakKb))} | ${mb(peak(xs, (r) => r.childPeakKb))} | ${mb(peak(xs, (r) => r.childrenSumPeakKb))} |`,
    );
  }
  const overhead = wallB / wallA - 1;
  console.log(`\nstageline's overhead: wall B/A − 1 = ${pct(overhead)} (${overhead < 0.1 ? 'under' : 'NOT under'} the 10 % asked); CPU B/A = ${(cpuB / cpuA).toFixed(3)} (${pct(cpuB / cpuA - 1)})`);
  if (rounds > 1) console.log(`per round: A ${samples.A.map((s) => s.wall.toFixed(2)).join(', ')} s; B ${samples.B.map((s) => s.wall.toFixed(2)).join(', ')} s`);
  console.log(`peak RSS method: ${rssMethod}${hwmResettable ? '' : ' (clear_refs not writable here: node peak is the lifetime maxRSS)'}`);
  console.log(`fauxqs held the ${(inputBytes / 1e6).toFixed(1)} MB source and, per stageline run, ${stored.objects} output objects of ${(stored.bytes / 1e6).toFixed(1)} MB (deleted after each round, untimed)`);

  console.log(`\nper rung (last round): target = the rung's -maxrate (video) from rungs.ts; + 128k AAC; BANDWIDTH = the highest ${segmentSeconds} s segment, AVERAGE-BANDWIDTH = all segments (init excluded), audio and fMP4 overhead included`);
  console.log('| rung | size | target maxrate kbit/s | + audio | stageline AVERAGE-BANDWIDTH kbit/s (vs maxrate + audio) | stageline BANDWIDTH kbit/s (vs maxrate + audio) | hand-written average / peak kbit/s | segments B / A | bytes B vs A |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of plan) {
    const b = ratesB.get(r.name);
    const a = ratesA.get(r.name);
    if (!b || !a) throw new Error(`rung ${r.name} missing: stageline ${b ? 'has it' : 'lacks it'}, hand-written ${a ? 'has it' : 'lacks it'}`);
    const target = (r.maxrateKbps + 128) * 1000;
    console.log(
      `| ${r.name} | ${r.width}x${r.height} | ${r.maxrateKbps} | ${r.maxrateKbps + 128} | ${kbps(b.average)} (${pct(b.average / target - 1)}) | ${kbps(b.peak)} (${pct(b.peak / target - 1)}) | ${kbps(a.average)} / ${kbps(a.peak)} | ${b.segments} / ${a.segments} | ${pct(b.bytes / a.bytes - 1)} |`,
    );
  }
  console.log(`\n(bench total ${((performance.now() - t00) / 1000).toFixed(1)} s)`);
} catch (err) {
  process.exitCode = 1;
  throw err;
} finally {
  await emulator.stop();
  await rm(dir, { recursive: true, force: true });
}
