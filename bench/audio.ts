/**
 * `npm run bench:audio [-- --minutes=10] [--rounds=3] [--hour]`
 *
 * Generates a stereo 44.1 kHz WAV (pink noise left, a sweep right) in a temp dir, uploads it to an
 * in-process fauxqs, and measures side by side in one run, contenders' order rotated each round (medians):
 * - bare `ffmpeg -i in.wav -f null -` vs the waveform task's decode+peaks path and the whole waveform task;
 * - each rendition: the same ffmpeg command line run bare vs the transcode task for that rendition
 *   (probe, encode, multipart upload to fauxqs);
 * - the whole analysis stage (transcode with the default renditions, waveform, analysis at once).
 * Wall time, and CPU time of this process plus its reaped children (/proc/self/stat: utime, stime,
 * cutime, cstime), so CPU ÷ wall shows how many cores were busy.
 * `--hour`: one 60-minute file through the analysis stage once; reports peak RSS of node and of ffmpeg.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { createAwsClients } from '../src/aws/clients.js';
import { loadConfig } from '../src/contract/env.js';
import { startEmulator } from '../src/cli/emulator.js';
import { JobMessage } from '../src/tasks/index.js';
import { renditionNames, type RenditionName } from '../src/tasks/audio/options.js';
import { type StageName } from '../src/contract/stages.js';
import { runStageTasks } from '../src/pipeline/task-runner.js';
import { ObjectStore } from '../src/storage/object-store.js';
import { TrackAnalysisTask } from '../src/tasks/audio/analysis-task.js';
import { openAudioInput } from '../src/tasks/audio/input/audio-input.js';
import { firstAudioTrack, uploadInputArgs } from '../src/tasks/audio/input/ffmpeg-args.js';
import { resolveFfmpegBinaries } from '../src/media/ffmpeg-binaries.js';
import { fileInput } from '../src/media/untrusted-input.js';
import { formatArgs, renditions } from '../src/tasks/audio/transcode/renditions.js';
import { createAudioToolkit } from '../src/tasks/audio/ffmpeg/toolkit.js';
import { TranscodeTask } from '../src/tasks/audio/transcode-task.js';
import { WaveformTask } from '../src/tasks/audio/waveform-task.js';
import { TaskRegistry } from '../src/pipeline/registry.js';
import type { Task, TaskContext } from '../src/pipeline/task.js';
import { statCpuSeconds } from './proc-stat.js';

const run = promisify(execFile);
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string | undefined]));
const hour = args.has('hour');
const minutes = hour ? 60 : Number(args.get('minutes') ?? 10);
const rounds = hour ? 1 : Number(args.get('rounds') ?? 3);
const bins = resolveFfmpegBinaries(process.env);
const kit = createAudioToolkit(loadConfig({}));
const logger = pino({ level: 'silent' });

/** CPU seconds of this process and its reaped children. */
const cpuSeconds = (): number => statCpuSeconds('/proc/self/stat', true);

interface Sample {
  wall: number;
  cpu: number;
}

async function measure(work: () => Promise<unknown>): Promise<Sample> {
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  await work();
  return { wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - cpu0 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const dir = await mkdtemp(join(tmpdir(), 'stageline-bench-audio-'));
const emulator = await startEmulator();
const { s3 } = createAwsClients({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: emulator.endpoint });
Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
const store = new ObjectStore(s3, emulator.bucket);

try {
  const input = join(dir, 'in.wav');
  const seconds = minutes * 60;
  await run(bins.ffmpeg, [
    '-nostdin', '-loglevel', 'error',
    '-f', 'lavfi', '-i', `anoisesrc=d=${seconds}:c=pink:r=44100:a=0.3`,
    '-f', 'lavfi', '-i', `aevalsrc=0.4*sin(2*PI*(200+${seconds}*t/10)*t):s=44100:d=${seconds}`,
    '-filter_complex', '[0][1]amerge=inputs=2', '-c:a', 'pcm_s16le', '-y', input,
  ]);
  const key = 'bench/in.wav';
  const { createReadStream } = await import('node:fs');
  await store.upload(key, createReadStream(input), 'audio/wav');
  let jobs = 0;
  const job = (renditionsWanted: RenditionName[]) =>
    JobMessage.parse({ jobId: `bench-${++jobs}`, kind: 'audio', input: { bucket: emulator.bucket, key }, audio: { renditions: renditionsWanted } });
  /** A task context whose input is the local file (the stage downloads it once for all its tasks). */
  const ctxFor = async (task: Task, j: JobMessage, stage: StageName): Promise<TaskContext> => {
    const tmp = await mkdtemp(join(dir, `${task.name}-`));
    return { job: j, stage, store, logger, signal: new AbortController().signal, tmpDir: tmp, inputFile: async () => input, reportProgress: () => undefined };
  };
  console.log(`input: ${minutes} min stereo 44.1 kHz s16 WAV, ${(readFileSync(input).length / 1e6).toFixed(0)} MB; ffmpeg ${bins.ffmpeg}; node ${process.version}; ${rounds} round(s)\n`);

  if (hour) {
    let ffmpegPeakKb = 0;
    const sampler = setInterval(() => {
      execFile('ps', ['-o', 'rss=,comm=', '--ppid', String(process.pid)], (err, out) => {
        if (err) return;
        for (const line of out.split('\n')) if (/ffmpeg|ffprobe/.test(line)) ffmpegPeakKb = Math.max(ffmpegPeakKb, Number(line.trim().split(/\s+/)[0]));
      });
    }, 200);
    const registry = new TaskRegistry()
      .register('analysis', 'audio', new TranscodeTask(kit))
      .register('analysis', 'audio', new WaveformTask(kit))
      .register('analysis', 'audio', new TrackAnalysisTask(kit));
    const loopDelay = (await import('node:perf_hooks')).monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const rssBefore = process.resourceUsage().maxRSS;
    const s = await measure(() => runStageTasks({ registry, store, tmpRoot: dir }, 'analysis', job(['mp3-192k', 'aac-128k']), new AbortController().signal, logger));
    loopDelay.disable();
    clearInterval(sampler);
    console.log(`| 60-min analysis stage (mp3-192k, aac-128k, waveform, analysis) | wall ${s.wall.toFixed(1)} s | CPU ${s.cpu.toFixed(1)} s (${(s.cpu / s.wall).toFixed(2)} cores) |`);
    console.log(`peak RSS: node ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (before the stage ${(rssBefore / 1024).toFixed(0)} MB, fauxqs holding the 635 MB upload in-process), largest ffmpeg ${(ffmpegPeakKb / 1024).toFixed(0)} MB`);
    console.log(`event loop delay during the stage: p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, max ${(loopDelay.max / 1e6).toFixed(1)} ms`);
  } else {
    const waveform = new WaveformTask(kit);
    type Contender = { name: string; work: () => Promise<unknown> };
    const bare = (argv: string[]) => () => run(bins.ffmpeg, argv);
    const groups: { title: string; baseline: string; contenders: Contender[] }[] = [];

    groups.push({
      title: 'waveform',
      baseline: 'bare ffmpeg -i in.wav -f null -',
      contenders: [
        { name: 'bare ffmpeg -i in.wav -f null -', work: bare(['-nostdin', '-loglevel', 'error', '-i', input, '-f', 'null', '-']) },
        {
          name: 'waveform decode + peaks (PeakWriter)',
          work: async () => {
            const ctx = await ctxFor(waveform, job(['mp3-192k']), 'analysis');
            await waveform.computePeaks(ctx, await openAudioInput(ctx, kit));
          },
        },
        { name: 'waveform task (+ probe, png, 3 uploads)', work: async () => waveform.run(await ctxFor(waveform, job(['mp3-192k']), 'analysis')) },
      ],
    });
    for (const name of renditionNames) {
      const r = renditions[name];
      const out = join(dir, r.output.kind === 'file' ? `bare-${r.output.file}` : 'bare-hls/index.m3u8');
      const extra = r.output.kind === 'hls' ? ['-hls_segment_filename', join(dir, 'bare-hls', 'segment-%05d.ts')] : [];
      const argv = [...uploadInputArgs('error'), '-i', fileInput(input), ...firstAudioTrack(kit.limits), ...formatArgs(r, 44100, 2), ...r.args, ...extra, '-y', out];
      const transcode = new TranscodeTask(kit);
      groups.push({
        title: name,
        baseline: `bare ffmpeg ${name}`,
        contenders: [
          { name: `bare ffmpeg ${name}`, work: async () => { await run('mkdir', ['-p', join(dir, 'bare-hls')]); await bare(argv)(); } },
          { name: `transcode task ${name} (+ probe, upload)`, work: async () => transcode.run(await ctxFor(transcode, job([name]), 'analysis')) },
        ],
      });
    }
    const stageRegistry = new TaskRegistry()
      .register('analysis', 'audio', new TranscodeTask(kit))
      .register('analysis', 'audio', new WaveformTask(kit))
      .register('analysis', 'audio', new TrackAnalysisTask(kit));
    groups.push({
      title: 'analysis stage',
      baseline: 'the same ffmpeg passes, bare, one after another',
      contenders: [
        {
          name: 'the same ffmpeg passes, bare, one after another',
          work: async () => {
            for (const n of ['mp3-192k', 'aac-128k'] as const) {
              const r = renditions[n];
              await bare([...uploadInputArgs('error'), '-i', fileInput(input), ...firstAudioTrack(kit.limits), ...r.args, '-y', join(dir, `seq-${n}`)])();
            }
            await bare(['-nostdin', '-loglevel', 'error', '-i', input, '-f', 's16le', '-y', '/dev/null'])();
            await bare(['-nostdin', '-loglevel', 'info', '-i', input, '-af', 'silencedetect=noise=-50dB:duration=0.5,ebur128=peak=true:framelog=verbose', '-f', 'null', '-'])();
          },
        },
        {
          name: 'analysis stage: transcode (mp3-192k, aac-128k) + waveform + analysis, concurrently',
          work: () => runStageTasks({ registry: stageRegistry, store, tmpRoot: dir }, 'analysis', job(['mp3-192k', 'aac-128k']), new AbortController().signal, logger),
        },
      ],
    });

    // Warm-up: fluent-ffmpeg's one-time capability queries, the JIT, the page cache.
    await groups[0]!.contenders[1]!.work();
    const results = new Map<string, Sample[]>();
    for (let round = 0; round < rounds; round++) {
      for (const group of groups) {
        const order = group.contenders.map((_, i) => group.contenders[(i + round) % group.contenders.length]!);
        for (const c of order) {
          const s = await measure(c.work);
          results.set(c.name, [...(results.get(c.name) ?? []), s]);
        }
      }
    }
    console.log('| group | contender | wall s (median) | CPU s | cores busy | wall vs baseline |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const group of groups) {
      const base = median((results.get(group.baseline) ?? []).map((s) => s.wall));
      for (const c of group.contenders) {
        const samples = results.get(c.name) ?? [];
        const wall = median(samples.map((s) => s.wall));
        const cpu = median(samples.map((s) => s.cpu));
        const vs = c.name === group.baseline ? '1.00×' : `${(wall / base).toFixed(2)}× (${wall >= base ? '+' : ''}${(((wall - base) / base) * 100).toFixed(1)}%)`;
        console.log(`| ${group.title} | ${c.name} | ${wall.toFixed(2)} | ${cpu.toFixed(2)} | ${(cpu / wall).toFixed(2)} | ${vs} |`);
      }
    }
  }
} finally {
  await emulator.stop();
  await rm(dir, { recursive: true, force: true });
}
