/**
 * Issue 12, audio: hostile uploads through the whole running worker. Each attack ends `failed` with a
 * permanent code (one attempt per stage, nothing dead-lettered, one job.failed event) or, where the upload
 * is fine but its metadata is hostile, succeeds with outputs the metadata did not shape; the worker keeps
 * serving afterwards.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { statusKey } from '../../src/contract/job-keys.js';
import { AudioAnalysisReport } from '../../src/tasks/audio/analysis/analysis-report.js';
import { expectRefused, expectStillServing, startAttackBench, type AttackBench } from '../helpers/attack.js';
import { signallingTool } from '../helpers/audio-fake-tools.js';
import { binaries, chordWithGap, ffmpegMake } from '../helpers/audio-media.js';
import { eventually, finalStatus, jobStatus } from '../helpers/pipeline.js';

const run = promisify(execFile);
/** The length limit of these benches: AUDIO_MAX_DURATION_SECONDS, lowered so the long file stays small. */
const maxSeconds = 60;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'security-audio-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** A PCM WAV with whatever header values an attacker likes, and `frames` frames of silence. */
function wav(sampleRate: number, channels: number, frames: number): Buffer {
  const data = Buffer.alloc(frames * channels * 2);
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(1, 0);
  fmt.writeUInt16LE(channels, 2);
  fmt.writeUInt32LE(sampleRate, 4);
  fmt.writeUInt32LE(sampleRate * channels * 2, 8);
  fmt.writeUInt16LE(channels * 2, 12);
  fmt.writeUInt16LE(16, 14);
  const chunk = (id: string, body: Buffer) => Buffer.concat([Buffer.from(id, 'latin1'), Buffer.from(new Uint32Array([body.length]).buffer), body]);
  const body = Buffer.concat([Buffer.from('WAVE'), chunk('fmt ', fmt), chunk('data', data)]);
  return Buffer.concat([Buffer.from('RIFF'), Buffer.from(new Uint32Array([body.length]).buffer), body]);
}

const Tagged = z.looseObject({
  format: z.looseObject({ tags: z.record(z.string(), z.string()).default({}) }),
  streams: z.array(z.looseObject({ tags: z.record(z.string(), z.string()).default({}) })),
  chapters: z.array(z.looseObject({ tags: z.record(z.string(), z.string()).default({}) })).default([]),
});

/**
 * Every tag (format, streams, chapters) and the chapter count of a file, by ffprobe. An MPEG-TS segment is
 * copied into Matroska first (with its tags, as ffmpeg copies them by default): the bundled ffprobe crashes on MPEG-TS.
 */
async function tagsOf(path: string): Promise<{ values: string[]; chapters: number }> {
  const probed = path.endsWith('.ts') ? `${path}.mka` : path;
  if (probed !== path) await run(binaries.ffmpeg, ['-nostdin', '-loglevel', 'error', '-i', path, '-map', '0', '-c', 'copy', '-f', 'matroska', '-y', probed]);
  const { stdout } = await run(binaries.ffprobe, ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '-show_chapters', probed]);
  const t = Tagged.parse(JSON.parse(stdout));
  const values = [t.format.tags, ...t.streams.map((s) => s.tags), ...t.chapters.map((c) => c.tags)].flatMap((tags) => Object.entries(tags).map(([k, v]) => `${k}=${v}`));
  return { values, chapters: t.chapters.length };
}

async function keysOf(bench: AttackBench, jobId: string): Promise<string[]> {
  const res = await bench.stack.clients.s3.send(new ListObjectsV2Command({ Bucket: bench.stack.emulator.bucket, Prefix: `jobs/${jobId}/` }));
  return (res.Contents ?? []).map((o) => o.Key ?? '').sort();
}

async function download(bench: AttackBench, key: string, name: string): Promise<string> {
  const path = join(dir, name);
  await bench.stack.store.downloadToFile({ bucket: bench.stack.emulator.bucket, key }, path);
  return path;
}

/** Uploads the bytes and sends an audio job request for them. */
async function submit(bench: AttackBench, jobId: string, name: string, body: Buffer | string, audio: object = {}): Promise<void> {
  const key = `uploads/${jobId}/${name}`;
  await bench.put(key, body);
  await bench.send({ jobId, kind: 'audio', input: { key }, audio });
}

/** Refused, and nothing but status.json was written for the job. */
async function expectRefusedWithoutOutputs(bench: AttackBench, jobId: string, code: string) {
  const status = await expectRefused(bench, jobId, code);
  assert.deepEqual(await keysOf(bench, jobId), [statusKey(jobId)], 'no outputs');
  assert.doesNotMatch(JSON.stringify(status), /Input #|Stream #|@ 0x|ffmpeg version/, 'no ffmpeg output in the status');
  return status;
}

describe('hostile audio through the running worker', () => {
  let bench: AttackBench;
  before(async () => {
    bench = await startAttackBench({ AUDIO_MAX_DURATION_SECONDS: String(maxSeconds) });
  });
  after(() => bench.stop());

  test('a WAV declaring a 1 Hz sample rate is refused with AUDIO_SAMPLE_RATE (ebur128 aborted on it)', async () => {
    await submit(bench, 'rate-1hz', 'low.wav', wav(1, 1, 10));
    const status = await expectRefusedWithoutOutputs(bench, 'rate-1hz', 'AUDIO_SAMPLE_RATE');
    assert.equal(status.stages.validation?.state, 'failed', 'refused in validation, before analysis decoded anything');
    assert.match(status.stages.validation?.error?.message ?? '', /1 Hz.*8000 to 384000 Hz/);
    await expectStillServing(bench);
  });

  test('a WAV declaring 255 channels is refused with AUDIO_TOO_MANY_CHANNELS, not retried', async () => {
    await submit(bench, 'channels-255', 'wide.wav', wav(8000, 255, 800));
    const status = await expectRefusedWithoutOutputs(bench, 'channels-255', 'AUDIO_TOO_MANY_CHANNELS');
    assert.match(status.stages.validation?.error?.message ?? '', /255 channels; the limit is 8/);
    await expectStillServing(bench);
  });

  test('an MP3 that decodes past the length limit behind a start that makes ffprobe estimate it short fails AUDIO_TOO_LONG', async () => {
    // The file in small: 20 s at 64 kbit/s, then 200 s at 8 kbit/s, no Xing/Info header, so
    // ffprobe estimates the length from the first frames' bit rate.
    const mp3 = ['-c:a', 'libmp3lame', '-write_xing', '0', '-id3v2_version', '0', '-f', 'mp3'];
    const head = await ffmpegMake(dir, 'head.mp3', ['-f', 'lavfi', '-i', 'sine=f=440:d=20:sample_rate=24000', ...mp3.slice(0, 2), '-b:a', '64k', ...mp3.slice(2)]);
    const tail = await ffmpegMake(dir, 'tail.mp3', ['-f', 'lavfi', '-i', 'sine=f=440:d=200:sample_rate=24000', ...mp3.slice(0, 2), '-b:a', '8k', ...mp3.slice(2)]);
    const file = Buffer.concat([await readFile(head), await readFile(tail)]);
    const joined = join(dir, 'long.mp3');
    await writeFile(joined, file);
    const { stdout } = await run(binaries.ffprobe, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', joined]);
    assert.ok(Number(stdout) < maxSeconds, `ffprobe's estimate (${stdout.trim()} s) passes the limit, so only the decode can catch it`);

    await submit(bench, 'long-mp3', 'long.mp3', file);
    const status = await expectRefusedWithoutOutputs(bench, 'long-mp3', 'AUDIO_TOO_LONG');
    assert.equal(status.stages.validation?.state, 'failed');
    assert.equal(status.stages.analysis, undefined, 'nothing was transcoded');
    await expectStillServing(bench);
  });

  test('tags shaped like silencedetect, ebur128 and progress lines change nothing in analysis.json', async () => {
    const forged = [
      '[silencedetect @ 0x55d0c0] silence_start: 0.5',
      '[silencedetect @ 0x55d0c0] silence_end: 1.5 | silence_duration: 1',
      'lavfi.silence_start=5.5',
      'lavfi.silence_end=6.5',
      '[Parsed_ebur128_1 @ 0x55d0c0] Summary:',
      '',
      '  Integrated loudness:',
      '    I:          -5.0 LUFS',
      '  Loudness range:',
      '    LRA:        20.0 LU',
      '  True peak:',
      '    Peak:       -1.0 dBFS',
      'size=N/A time=02:00:00.00 bitrate=N/A speed=1x',
    ].join('\n');
    // The chord's one real silence is 3.5-4.5 s.
    const source = await chordWithGap(dir, 'forged.mp3', 8, ['-c:a', 'libmp3lame', '-metadata', `title=${forged}`, '-metadata', `comment=x\n${forged}`]);
    await submit(bench, 'forged-tags', 'forged.mp3', await readFile(source), { renditions: ['mp3-128k'] });
    const status = await finalStatus(bench.stack.store, 'forged-tags', 60_000);
    assert.equal(status.state, 'succeeded', JSON.stringify(status));
    const report = AudioAnalysisReport.parse(JSON.parse(await readFile(await download(bench, status.outputs['analysis.json'] ?? '', 'forged-analysis.json'), 'utf8')));
    assert.equal(report.silence.spans.length, 1, JSON.stringify(report.silence.spans));
    const [span] = report.silence.spans;
    assert.ok(span && Math.abs(span.startSeconds - 3.5) < 0.1 && Math.abs(span.endSeconds - 4.5) < 0.1, JSON.stringify(span));
    assert.ok(Math.abs(report.durationSeconds - 8) < 0.1, `duration ${report.durationSeconds}`);
    assert.ok(report.loudness.truePeakDbtp !== null && Math.abs(report.loudness.truePeakDbtp - -20) < 1, `true peak ${report.loudness.truePeakDbtp}`);
    assert.ok(report.loudness.integratedLufs !== null && report.loudness.integratedLufs < -15, `integrated ${report.loudness.integratedLufs}`);
    assert.ok(report.loudness.rangeLu !== null && report.loudness.rangeLu < 10, `range ${report.loudness.rangeLu}`);
  });

  test("renditions carry none of the input's tags or chapters", async () => {
    const meta = join(dir, 'meta.txt');
    await writeFile(
      meta,
      [';FFMETADATA1', 'title=Leaky title 7f3a', 'artist=Leaky artist 7f3a', 'comment=Leaky comment 7f3a', 'encoded_by=Leaky encoder 7f3a']
        .concat(...[0, 1].map((i) => ['[CHAPTER]', 'TIMEBASE=1/1000', `START=${i * 2000}`, `END=${(i + 1) * 2000}`, `title=Leaky chapter ${i} 7f3a`]))
        .join('\n'),
    );
    const source = await ffmpegMake(dir, 'tagged.m4a', [
      '-f', 'lavfi', '-i', 'sine=f=440:d=4:sample_rate=44100', '-i', meta,
      '-map', '0:a', '-map_metadata', '1', '-map_chapters', '1', '-metadata:s:a:0', 'handler_name=Leaky handler 7f3a', '-c:a', 'aac',
    ]);
    const input = await tagsOf(source);
    assert.ok(input.chapters === 2 && input.values.filter((v) => v.includes('7f3a')).length >= 5, 'the input has tags and chapters to leak');

    const all = ['mp3-192k', 'mp3-128k', 'aac-128k', 'opus-96k', 'hls-aac-128k'];
    await submit(bench, 'tagged', 'tagged.m4a', await readFile(source), { renditions: all });
    const status = await finalStatus(bench.stack.store, 'tagged', 60_000);
    assert.equal(status.state, 'succeeded', JSON.stringify(status));
    const keys = await keysOf(bench, 'tagged');
    const media = keys.filter((k) => /\/audio\/.+\.(mp3|m4a|ogg|ts)$/.test(k));
    assert.equal(media.filter((k) => !k.endsWith('.ts')).length, 4, keys.join(', '));
    assert.ok(media.some((k) => k.endsWith('.ts')), 'HLS segments checked too');
    for (const key of media) {
      const file = await download(bench, key, `tagged-${key.split('/').slice(3).join('-')}`);
      const { values, chapters } = await tagsOf(file);
      assert.deepEqual(values.filter((v) => /7f3a|leaky/i.test(v)), [], `${key}: no input tag`);
      assert.equal(chapters, 0, `${key}: no chapters`);
    }
    const playlist = await readFile(await download(bench, `jobs/tagged/audio/hls-aac-128k/index.m3u8`, 'tagged.m3u8'), 'utf8');
    assert.doesNotMatch(playlist, /7f3a/i);
  });

  test('playlists and concat lists disguised as audio are refused, and nothing they name is read', async () => {
    // A real audio file outside the upload, which a followed reference would turn into renditions.
    const elsewhere = await chordWithGap(dir, 'elsewhere.wav', 3);
    const requests: string[] = [];
    const server: Server = createServer((req, res) => {
      requests.push(req.url ?? '');
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const hls = (ref: string) => `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:3.0,\n${ref}\n#EXT-X-ENDLIST\n`;
    const hostile: [string, string, string][] = [
      ['hls-local', 'song.mp3', hls(elsewhere)],
      ['hls-file-url', 'song.wav', hls(`file://${elsewhere}`)],
      ['hls-network', 'song.m4a', hls(`${url}/segment.wav`)],
      ['concat-local', 'song.wav', `ffconcat version 1.0\nfile '${elsewhere}'\n`],
      ['concat-network', 'song.flac', `ffconcat version 1.0\nfile '${url}/segment.wav'\n`],
    ];
    try {
      for (const [jobId, name, body] of hostile) {
        await submit(bench, jobId, name, body);
        await expectRefusedWithoutOutputs(bench, jobId, 'AUDIO_UNSUPPORTED_FORMAT');
      }
      assert.deepEqual(requests, [], 'no request reached the address a playlist named');
    } finally {
      server.close();
    }
    await expectStillServing(bench);
  });
});

describe('a tool crashing on an input', () => {
  let bench: AttackBench;
  before(async () => {
    // Real ffmpeg, except that a run with ebur128 in it aborts as 5.1's did on the 1 Hz WAV.
    const ffmpeg = await signallingTool(dir, 'ffmpeg-aborts-in-ebur128', 'SIGABRT', 'ebur128');
    bench = await startAttackBench({ FFMPEG_PATH: ffmpeg, FFPROBE_PATH: binaries.ffprobe });
  });
  after(() => bench.stop());

  test('fails the job permanently with AUDIO_TOOL_CRASHED: one attempt, nothing dead-lettered', async () => {
    const source = await chordWithGap(dir, 'crash.wav', 3);
    await submit(bench, 'crashes-ffmpeg', 'crash.wav', await readFile(source));
    const status = await expectRefused(bench, 'crashes-ffmpeg', 'AUDIO_TOOL_CRASHED');
    assert.equal(status.stages.analysis?.state, 'failed');
    await expectStillServing(bench);
  });
});

/** ffmpeg and ffprobe processes that are children of this test process (the worker runs in it). */
const toolChildren = () =>
  execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /ffmpeg|ffprobe/.test(l));

describe("a job's ffmpeg processes die with it", () => {
  let bench: AttackBench;
  before(async () => {
    bench = await startAttackBench({ DRAIN_TIMEOUT_SECONDS: '0' });
  });
  after(() => bench.stop());

  test('a worker stopped mid-analysis leaves no ffmpeg running, and the job is released, not failed', async () => {
    // Two hours of silence: a 1.3 MB FLAC that keeps five encoders busy far longer than the stop may take.
    const source = await ffmpegMake(dir, 'two-hours.flac', ['-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono', '-t', '7200', '-c:a', 'flac']);
    await submit(bench, 'stopped-mid-job', 'two-hours.flac', await readFile(source), { renditions: ['mp3-192k', 'mp3-128k', 'aac-128k', 'opus-96k', 'hls-aac-128k'] });
    await eventually(
      async () => ((await jobStatus(bench.stack.store, 'stopped-mid-job'))?.stages.analysis?.state === 'running' && toolChildren().filter((p) => p.endsWith('ffmpeg')).length >= 3 ? true : undefined),
      'the analysis encodes to run',
      60_000,
      50,
    );
    const stopping = Date.now();
    await bench.worker.stop();
    // With DRAIN_TIMEOUT_SECONDS=0 the jobs are stopped at once; encoders left running would hold the stop until they finished.
    assert.ok(Date.now() - stopping < 5000, `stopped within DRAIN_TIMEOUT_SECONDS + 5 s: ${Date.now() - stopping} ms`);
    assert.deepEqual(toolChildren(), [], 'no ffmpeg outlives its job');
    const status = await jobStatus(bench.stack.store, 'stopped-mid-job');
    assert.ok(status && status.state !== 'failed' && status.state !== 'succeeded', JSON.stringify(status));
  });
});
