/**
 * `npm run demo`: an embedded SQS+S3 emulator, the worker, the sample audio and the sample CSV submitted
 * as a user would, progress per stage, and where every output is. Exits 0 when both jobs succeed.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { submit } from './commands/submit.js';
import { createAwsClients } from '../aws/clients.js';
import { loadConfig } from '../contract/env.js';
import { statusKey } from '../contract/job-keys.js';
import { createLogger } from '../daemon/logger.js';
import { startWorker } from '../daemon/worker.js';
import { startEmulator } from './emulator.js';
import { ObjectStore } from '../storage/object-store.js';
import { AudioAnalysisReport } from '../tasks/audio/analysis/analysis-report.js';
import { resolveFfmpegBinaries } from '../media/ffmpeg-binaries.js';
import { ValidationReport } from '../tasks/csv/reports.js';
import { VideoInfo } from '../tasks/video/input/video-info.js';

const samples = new URL('../../samples/', import.meta.url);
const say = (line: string) => process.stdout.write(line + '\n');

/**
 * The sample audio is synthesised rather than shipped: eight seconds of a stereo chord with a second of
 * silence in the middle, so the waveform, loudness and silence detection all have something to show.
 */
async function makeSampleAudio(dir: string): Promise<string> {
  const path = join(dir, 'sample-chord.wav');
  const { ffmpeg } = resolveFfmpegBinaries(process.env);
  await promisify(execFile)(ffmpeg, [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', 'sine=frequency=220:duration=8:sample_rate=44100',
    '-f', 'lavfi', '-i', 'sine=frequency=330:duration=8:sample_rate=44100',
    '-filter_complex', "[0][1]join=inputs=2:channel_layout=stereo,volume='if(between(t,3.5,4.5),0,0.8)':eval=frame",
    '-c:a', 'pcm_s16le', '-y', path,
  ]);
  return path;
}

/**
 * The sample video, made the same way: six seconds of ffmpeg's moving test pattern at 640×360 that opens
 * on a second of black (the poster must skip it), with a tone. Submitted without a kind: detected.
 */
async function makeSampleVideo(dir: string): Promise<string> {
  const path = join(dir, 'sample-pattern.mp4');
  const { ffmpeg } = resolveFfmpegBinaries(process.env);
  await promisify(execFile)(ffmpeg, [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', "testsrc2=size=640x360:rate=25:duration=6,drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='lt(t,1)'",
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=6:sample_rate=48000',
    // A keyframe a second, as phones record: the thumbnails are made from keyframes.
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k', '-shortest', '-y', path,
  ]);
  return path;
}

/** One line of what the outputs say, read back through their own schemas. */
async function highlights(store: ObjectStore, outputs: Record<string, string>): Promise<string> {
  const validation = outputs['validation.json'] && (await store.getJson(outputs['validation.json'], ValidationReport));
  if (validation) return `${validation.rowsRead} rows read, ${validation.rowsValid} valid, ${validation.rowsRejected} rejected (see rejects.jsonl)`;
  const video = outputs['video/master.m3u8'] && outputs['analysis.json'] && (await store.getJson(outputs['analysis.json'], VideoInfo));
  if (video) {
    const rungs = Object.keys(outputs).filter((name) => /^video\/[^/]+\/index\.m3u8$/.test(name)).map((name) => name.split('/')[1]);
    return `${video.durationSeconds.toFixed(2)} s, ${video.video.width}×${video.video.height} ${video.video.codec} at ${video.video.frameRate} fps, ${video.audio.length} audio track(s); HLS rungs ${rungs.join(', ')}: play video/master.m3u8 with hls.js or Safari`;
  }
  const audio = outputs['analysis.json'] && (await store.getJson(outputs['analysis.json'], AudioAnalysisReport));
  if (audio) {
    const lufs = audio.loudness.integratedLufs;
    return `${audio.durationSeconds.toFixed(2)} s, ${audio.channels} channels at ${audio.sampleRate} Hz, ${lufs === null ? 'too quiet to measure' : `${lufs} LUFS integrated`}, ${audio.silence.spans.length} silent span(s)`;
  }
  return '';
}

const emulator = await startEmulator({ port: 0 });
Object.assign(process.env, emulator.env);
const config = loadConfig({ ...process.env, HTTP_PORT: '0', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
// Worker logs go to stderr so the demo's own story reads cleanly on stdout.
const logger = createLogger(config.LOG_LEVEL, pino.destination(2));
const clients = createAwsClients(config);
const worker = await startWorker({ config, clients, logger });
const dir = await mkdtemp(join(tmpdir(), 'stageline-demo-'));
say(`emulator at ${emulator.endpoint}, bucket s3://${emulator.bucket}, worker health on http://127.0.0.1:${worker.httpPort}/healthz\n`);

let exitCode = 1;
try {
  const [audio, video] = await Promise.all([makeSampleAudio(dir), makeSampleVideo(dir)]);
  const jobs = [
    { label: 'audio', file: audio, options: { kind: 'audio' as const } },
    { label: 'video', file: video, options: {} },
    { label: 'csv  ', file: new URL('orders.csv', samples).pathname, options: { kind: 'csv' as const, schemaFile: new URL('orders.schema.json', samples).pathname } },
  ];
  const results = await Promise.all(
    jobs.map(async (job) => {
      say(`[${job.label}] submitting ${job.file}`);
      return { label: job.label, ...(await submit(config, { file: job.file, wait: true, pollMs: 250, out: (line) => say(`[${job.label}] ${line}`), ...job.options })) };
    }),
  );
  const store = new ObjectStore(clients.s3, emulator.bucket);
  for (const r of results) {
    say(`\n${r.label.trim()} job ${r.jobId}: ${r.status?.state ?? 'unknown'}`);
    for (const [name, key] of Object.entries(r.status?.outputs ?? {})) {
      const { size } = await store.head({ bucket: store.bucket, key });
      say(`  ${name.padEnd(34)} s3://${store.bucket}/${key}  (${size} bytes)`);
    }
    say(`  ${'status.json'.padEnd(34)} s3://${store.bucket}/${statusKey(r.jobId)}`);
    say(`  ${await highlights(store, r.status?.outputs ?? {})}`);
  }
  exitCode = results.every((r) => r.exitCode === 0) ? 0 : 1;
  say(exitCode === 0 ? `\nall ${results.length} jobs succeeded` : '\na job failed: see its status above');
} finally {
  await worker.stop();
  await emulator.stop();
  await rm(dir, { recursive: true, force: true });
}
process.exit(exitCode);
