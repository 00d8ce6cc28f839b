import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AbortedError, BadInputError } from '../../src/contract/errors.js';
import { TrackAnalysisTask } from '../../src/tasks/audio/analysis-task.js';
import { AudioProbeTask } from '../../src/tasks/audio/probe-task.js';
import { TranscodeTask } from '../../src/tasks/audio/transcode-task.js';
import { WaveformTask } from '../../src/tasks/audio/waveform-task.js';
import type { Task } from '../../src/pipeline/task.js';
import { audioJob, audioKit, settleAudioTask, startAudioStack, type AudioStack } from '../helpers/audio-context.js';
import { chordWithGap, ffmpegMake } from '../helpers/audio-media.js';

let stack: AudioStack;
let dir: string;
const kit = audioKit();
const allTasks = (k = kit): Task[] => [new AudioProbeTask(k), new TranscodeTask(k), new WaveformTask(k), new TrackAnalysisTask(k)];
const passwd = '/etc/passwd';
const secret = (await readFile(passwd, 'utf8')).split('\n')[0] ?? 'root:x:0:0';

before(async () => {
  stack = await startAudioStack();
  dir = await mkdtemp(join(tmpdir(), 'audio-hostile-'));
});
after(async () => {
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
});

/**
 * Runs the task on the upload and expects a coded failure: an actionable message that repeats nothing
 * from any file, nothing written under the job's prefix, nothing left in the task's temp dir.
 */
async function expectRefused(task: Task, key: string, code: string, body?: Buffer) {
  if (body) await stack.put(key, body);
  const job = audioJob(stack, key, ['mp3-128k', 'hls-aac-128k']);
  const run = await settleAudioTask(stack, task, job, task instanceof AudioProbeTask ? 'validation' : 'analysis');
  assert.ok(run.error instanceof BadInputError, `${task.name} on ${key}: expected ${code}, got ${String(run.error)}`);
  assert.equal(run.error.code, code, `${task.name} on ${key}: ${run.error.message}`);
  assert.ok(run.error.message.length > 40, 'the message says what to do');
  assert.ok(!run.error.message.includes(secret) && !run.error.message.includes(passwd), 'no local file content or path in the message');
  assert.deepEqual(run.leftovers, [], 'temp files removed');
  assert.deepEqual(await stack.keys(job.jobId), [], 'no outputs');
  return run;
}

const playlist = (ref: string) => Buffer.from(`#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:10,\n${ref}\n#EXT-X-ENDLIST\n`);

test('playlists and scripts disguised as audio are refused by every task, whatever the file is called', async () => {
  const disguised: [string, Buffer][] = [
    ['hls-as.mp3', playlist(`file://${passwd}`)],
    ['hls-as.m3u8', playlist(passwd)],
    ['hls-as.wav', playlist(passwd)],
    ['hls-as.m4a', playlist(passwd)],
    ['concat-as.wav', Buffer.from(`ffconcat version 1.0\nfile ${passwd}\n`)],
    ['concat-as.ffconcat', Buffer.from(`ffconcat version 1.0\nfile '${passwd}'\nduration 5\n`)],
    ['ffmetadata-as.flac', Buffer.from(';FFMETADATA1\ntitle=x\n')],
  ];
  for (const [name, body] of disguised) {
    await stack.put(`hostile/${name}`, body);
    for (const task of allTasks()) await expectRefused(task, `hostile/${name}`, 'AUDIO_UNSUPPORTED_FORMAT');
  }
});

test('random bytes, empty, cut-off and soundless files each fail with their own code', async () => {
  const chord = await readFile(await chordWithGap(dir, 'chord.wav', 6));
  const half = (b: Buffer) => b.subarray(0, Math.floor(b.length / 2));
  const cases: [string, Buffer, string][] = [
    ['random.wav', randomBytes(150_000), 'AUDIO_UNSUPPORTED_FORMAT'],
    ['random.bin', randomBytes(150_000), 'AUDIO_UNSUPPORTED_FORMAT'],
    ['wav-header-then-noise.wav', Buffer.concat([chord.subarray(0, 36), randomBytes(50_000)]), 'AUDIO_UNSUPPORTED_FORMAT'],
    ['empty.mp3', Buffer.alloc(0), 'AUDIO_EMPTY'],
    ['cut.wav', half(chord), 'AUDIO_TRUNCATED'],
    ['cut-odd.wav', chord.subarray(0, Math.floor(chord.length / 2) + 1), 'AUDIO_TRUNCATED'],
    ['cut.mp3', half(await readFile(await chordWithGap(dir, 'chord.mp3', 6, ['-c:a', 'libmp3lame']))), 'AUDIO_TRUNCATED'],
    ['cut.flac', half(await readFile(await chordWithGap(dir, 'chord.flac', 6, ['-c:a', 'flac']))), 'AUDIO_TRUNCATED'],
    ['cut.m4a', half(await readFile(await chordWithGap(dir, 'chord.m4a', 6, ['-c:a', 'aac']))), 'AUDIO_TRUNCATED'],
    ['video-only.mp4', await readFile(await ffmpegMake(dir, 'video.mp4', ['-f', 'lavfi', '-i', 'testsrc=d=1:s=32x32', '-c:v', 'mpeg4'])), 'AUDIO_NO_AUDIO_STREAM'],
    ['empty-track.wav', await readFile(await ffmpegMake(dir, 'zero.wav', ['-f', 'lavfi', '-i', 'anullsrc=r=44100', '-t', '0', '-c:a', 'pcm_s16le'])), 'AUDIO_EMPTY'],
  ];
  for (const [name, body, code] of cases) await expectRefused(new AudioProbeTask(kit), `bad/${name}`, code, body);
  // Analysis does not rely on validation having run: the same checks hold there.
  await expectRefused(new WaveformTask(kit), 'bad/random.wav', 'AUDIO_UNSUPPORTED_FORMAT');
  await expectRefused(new TranscodeTask(kit), 'bad/empty.mp3', 'AUDIO_EMPTY');
});

test('limits: too long is refused after probing, too large before downloading', async () => {
  const source = await chordWithGap(dir, 'limits.wav', 8);
  await stack.put('limits/chord.wav', source, { fromFile: true });
  const short = audioKit({ AUDIO_MAX_DURATION_SECONDS: 5 });
  for (const task of allTasks(short)) await expectRefused(task, 'limits/chord.wav', 'AUDIO_TOO_LONG');
  const small = audioKit({ MAX_INPUT_BYTES: 100_000 });
  const run = await expectRefused(new AudioProbeTask(small), 'limits/chord.wav', 'AUDIO_TOO_LARGE');
  assert.equal(run.downloaded, false, 'refused on its size, before downloading');
});

test('sample rate and channels: from a WAV header before ffprobe runs, from ffprobe for any other container', async () => {
  const probed: string[] = [];
  const watched = audioKit();
  const kit = { ...watched, prober: { probe: (path: string, signal: AbortSignal) => (probed.push(path), watched.prober.probe(path, signal)) } };
  const header = (rate: number, channels: number) => {
    const wav = Buffer.alloc(44 + 1600);
    wav.write('RIFF', 0, 'latin1');
    wav.writeUInt32LE(wav.length - 8, 4);
    wav.write('WAVEfmt ', 8, 'latin1');
    wav.writeUInt32LE(16, 16);
    wav.writeUInt16LE(1, 20);
    wav.writeUInt16LE(channels, 22);
    wav.writeUInt32LE(rate, 24);
    wav.writeUInt32LE(rate * channels * 2, 28);
    wav.writeUInt16LE(channels * 2, 32);
    wav.writeUInt16LE(16, 34);
    wav.write('data', 36, 'latin1');
    wav.writeUInt32LE(1600, 40);
    return wav;
  };
  await expectRefused(new AudioProbeTask(kit), 'rates/1hz.wav', 'AUDIO_SAMPLE_RATE', header(1, 1));
  await expectRefused(new AudioProbeTask(kit), 'rates/768k.wav', 'AUDIO_SAMPLE_RATE', header(768_000, 2));
  await expectRefused(new WaveformTask(kit), 'rates/40ch.wav', 'AUDIO_TOO_MANY_CHANNELS', header(8000, 40));
  assert.deepEqual(probed, [], 'refused from the header: ffprobe never ran');

  const flac = await ffmpegMake(dir, 'low.flac', ['-f', 'lavfi', '-i', 'sine=d=2:sample_rate=4000', '-c:a', 'flac']);
  await stack.put('rates/low.flac', flac, { fromFile: true });
  await expectRefused(new AudioProbeTask(kit), 'rates/low.flac', 'AUDIO_SAMPLE_RATE');
  const twelve = Array.from({ length: 12 }, () => 'sin(440*2*PI*t)').join('|');
  const wide = await ffmpegMake(dir, 'wide.aiff', ['-f', 'lavfi', '-i', `aevalsrc=${twelve}:s=8000:d=1`, '-c:a', 'pcm_s16be']);
  await stack.put('rates/wide.aiff', wide, { fromFile: true });
  await expectRefused(new TranscodeTask(kit), 'rates/wide.aiff', 'AUDIO_TOO_MANY_CHANNELS');
  assert.equal(probed.length, 2, 'judged from the probe');
  // The limits are the configuration's: the same files pass where it allows them.
  const lenient = audioKit({ AUDIO_MIN_SAMPLE_RATE: 4000 });
  assert.equal((await settleAudioTask(stack, new AudioProbeTask(lenient), audioJob(stack, 'rates/low.flac'), 'validation')).error, undefined);
});

/** ffmpeg processes that are children of this test process. */
const ffmpegChildren = () =>
  execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /ffmpeg|ffprobe/.test(l));

test('abort: running encodes stop promptly, the task reports aborted, nothing is left behind', async () => {
  const long = await ffmpegMake(dir, 'long.flac', ['-f', 'lavfi', '-i', 'anoisesrc=d=120:c=pink:r=44100:a=0.2', '-ac', '2', '-c:a', 'flac']);
  await stack.put('abort/long.flac', long, { fromFile: true });
  const job = audioJob(stack, 'abort/long.flac', ['mp3-192k', 'mp3-128k', 'aac-128k', 'opus-96k', 'hls-aac-128k']);
  const controller = new AbortController();
  const running = settleAudioTask(stack, new TranscodeTask(kit), job, 'analysis', controller.signal);
  // Wait until encoders are running, then pull the plug.
  for (let i = 0; i < 200 && ffmpegChildren().length < 2; i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(ffmpegChildren().length >= 2, 'encoders were running');
  const abortedAt = Date.now();
  controller.abort(new Error('shutdown'));
  const run = await running;
  const took = Date.now() - abortedAt;
  assert.ok(run.error instanceof AbortedError, String(run.error));
  assert.ok(took < 2000, `settled ${took} ms after the abort`);
  assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg left running');
  assert.deepEqual(run.leftovers, []);
  assert.deepEqual(await stack.keys(job.jobId), [], 'no half-written outputs');
});
