/**
 * Issue 15 through the whole running worker: a video upload without a kind is detected and becomes a
 * keyframe-aligned HLS ladder with poster, thumbnails and analysis; an MP4 holding only audio is still an
 * audio job; a corrupt MP4 and a video over a limit each fail once with their code, nothing dead-lettered,
 * one job.failed event; the worker keeps serving.
 */
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { jobPrefix } from '../../src/contract/job-keys.js';
import { VideoInfo } from '../../src/tasks/video/input/video-info.js';
import { expectRefused, expectStillServing, startAttackBench, type AttackBench } from '../helpers/attack.js';
import { ffmpegMake } from '../helpers/audio-media.js';
import { eventually, finalStatus } from '../helpers/pipeline.js';
import { corruptMp4, makeClip } from '../helpers/video-media.js';

/** The length limit of this bench, lowered so the too-long clip stays small. */
const maxSeconds = 10;
let bench: AttackBench;
let dir: string;
before(async () => {
  bench = await startAttackBench({ VIDEO_MAX_DURATION_SECONDS: String(maxSeconds) });
  dir = await mkdtemp(join(tmpdir(), 'video-pipeline-'));
});
after(async () => {
  await bench.stop();
  await rm(dir, { recursive: true, force: true });
});

const upload = async (jobId: string, path: string, name: string) => {
  const key = `uploads/${jobId}/${name}`;
  await bench.put(key, await readFile(path));
  return key;
};

test('a video upload without a kind becomes a ladder with poster, thumbnails and analysis', async () => {
  const clip = await makeClip(dir, { name: 'landscape.mp4', seconds: 6, blackSeconds: 2 });
  const key = await upload('video-detected', clip, 'holiday.mp4');
  await bench.send({ jobId: 'video-detected', input: { key } });
  const status = await finalStatus(bench.stack.store, 'video-detected', 120_000);
  assert.equal(status.state, 'succeeded', JSON.stringify(status));
  assert.equal(status.kind, 'video');
  for (const name of ['video/master.m3u8', 'video/360p/index.m3u8', 'video/240p/index.m3u8', 'video/poster.jpg', 'video/thumbnails.jpg', 'video/thumbnails.vtt', 'analysis.json']) {
    assert.ok(status.outputs[name], `${name} in ${JSON.stringify(Object.keys(status.outputs))}`);
  }
  assert.equal(status.outputs['video/480p/index.m3u8'], undefined, 'no rung above the 360-line source');
  const master = (await bench.stack.store.readHead({ bucket: bench.stack.store.bucket, key: status.outputs['video/master.m3u8'] ?? '' }, 64 * 1024)).toString('utf8');
  assert.match(master, /^#EXTM3U/);
  assert.match(master, /RESOLUTION=640x360/);
  assert.match(master, /360p\/index\.m3u8/);
  const analysis = await bench.stack.store.getJson(status.outputs['analysis.json'] ?? '', VideoInfo);
  assert.equal(analysis?.video.width, 640);
  assert.equal(analysis?.audio.length, 1);
  const events = await eventually(async () => bench.events.get('video-detected'), 'the job.succeeded event');
  assert.deepEqual(events.map((e) => e.type), ['job.succeeded']);
});

test('nothing of the upload\'s metadata reaches any output', async () => {
  const secret = 'SECRET-TAG-7f3a';
  const clip = await ffmpegMake(dir, 'tagged.mov', [
    '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25:duration=3',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=3:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
    '-metadata', `title=${secret}-title`, '-metadata', `comment=${secret}-comment`, '-metadata', `artist=${secret}-artist`,
    '-metadata:s:v:0', `handler_name=${secret}-video-handler`, '-metadata:s:a:0', `handler_name=${secret}-audio-handler`,
    '-metadata:s:a:0', `title=${secret}-track`,
  ]);
  assert.ok((await readFile(clip)).includes(secret), 'the upload carries the tags');
  const key = await upload('video-tagged', clip, 'tagged.mov');
  await bench.send({ jobId: 'video-tagged', input: { key } });
  const status = await finalStatus(bench.stack.store, 'video-tagged', 120_000);
  assert.equal(status.state, 'succeeded', JSON.stringify(status));
  const listed = await bench.stack.clients.s3.send(new ListObjectsV2Command({ Bucket: bench.stack.store.bucket, Prefix: jobPrefix('video-tagged') }));
  const keys = (listed.Contents ?? []).map((o) => o.Key ?? '');
  assert.ok(keys.some((k) => k.endsWith('.m4s')) && keys.some((k) => k.endsWith('init.mp4')) && keys.some((k) => k.endsWith('poster.jpg')), keys.join(' '));
  for (const k of keys) {
    const body = await bench.stack.store.readHead({ bucket: bench.stack.store.bucket, key: k }, 64 * 1024 * 1024);
    assert.ok(!body.includes(secret), `${k} holds an upload tag`);
  }
});

test('an MP4 that holds only audio is an audio job', async () => {
  const m4a = await ffmpegMake(dir, 'tone.mp4', ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=3:sample_rate=44100', '-c:a', 'aac', '-b:a', '96k']);
  const key = await upload('audio-in-mp4', m4a, 'voice-memo.mp4');
  await bench.send({ jobId: 'audio-in-mp4', input: { key } });
  const status = await finalStatus(bench.stack.store, 'audio-in-mp4', 60_000);
  assert.equal(status.state, 'succeeded', JSON.stringify(status));
  assert.equal(status.kind, 'audio');
  assert.ok(status.outputs['waveform.json']);
});

test('a corrupt MP4 without a kind fails once with VIDEO_CORRUPT', async () => {
  await bench.put('uploads/corrupt/broken.mp4', corruptMp4());
  await bench.send({ jobId: 'video-corrupt', input: { key: 'uploads/corrupt/broken.mp4' } });
  const status = await expectRefused(bench, 'video-corrupt', 'VIDEO_CORRUPT');
  assert.equal(status.kind, 'video');
});

test('a video over a limit fails once with its code', async () => {
  const long = await makeClip(dir, { name: 'long.mkv', seconds: maxSeconds + 2, width: 160, height: 90, audio: false });
  const key = await upload('video-too-long', long, 'long.mkv');
  await bench.send({ jobId: 'video-too-long', input: { key }, kind: 'video' });
  const status = await expectRefused(bench, 'video-too-long', 'VIDEO_TOO_LONG');
  assert.match(status.error?.message ?? '', /VIDEO_MAX_DURATION_SECONDS/);
  await expectStillServing(bench);
});
