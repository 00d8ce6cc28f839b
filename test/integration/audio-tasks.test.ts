import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import WaveformData from 'waveform-data';
import type { RenditionName } from '../../src/tasks/audio/options.js';
import { runStageTasks } from '../../src/pipeline/task-runner.js';
import { AudioAnalysisReport } from '../../src/tasks/audio/analysis/analysis-report.js';
import { TrackAnalysisTask } from '../../src/tasks/audio/analysis-task.js';
import { AudioProbeTask } from '../../src/tasks/audio/probe-task.js';
import { TranscodeTask } from '../../src/tasks/audio/transcode-task.js';
import { WaveformJson } from '../../src/tasks/audio/waveform/waveform-format.js';
import { WaveformTask } from '../../src/tasks/audio/waveform-task.js';
import { TaskRegistry } from '../../src/pipeline/registry.js';
import { audioJob, audioKit, runAudioTask, startAudioStack, type AudioStack } from '../helpers/audio-context.js';
import { chordWithGap, decodedSeconds, decodePcm, ffmpegMake, probe, probeTransportStream, referencePeaks, speech } from '../helpers/audio-media.js';

let stack: AudioStack;
let dir: string;
const kit = audioKit();
const registry = new TaskRegistry()
  .register('validation', 'audio', new AudioProbeTask(kit))
  .register('analysis', 'audio', new TranscodeTask(kit))
  .register('analysis', 'audio', new WaveformTask(kit))
  .register('analysis', 'audio', new TrackAnalysisTask(kit));

before(async () => {
  stack = await startAudioStack();
  dir = await mkdtemp(join(tmpdir(), 'audio-tasks-'));
});
after(async () => {
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Uploads a local file and runs validation, then the analysis stage through the real stage runner. */
async function throughPipeline(file: string, key: string, renditions?: RenditionName[]) {
  await stack.put(key, file, { fromFile: true });
  const job = audioJob(stack, key, renditions);
  const logger = pino({ level: 'silent' });
  const validated = await runStageTasks({ registry, store: stack.store }, 'validation', job, new AbortController().signal, logger);
  assert.deepEqual(validated, {}, 'validation writes nothing');
  const outputs = await runStageTasks({ registry, store: stack.store }, 'analysis', job, new AbortController().signal, logger);
  return { job, outputs };
}

async function download(key: string, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, await stack.bytes(key));
  return path;
}

async function waveformOf(outputs: Record<string, string>) {
  const json = WaveformJson.parse(JSON.parse((await stack.bytes(outputs['waveform.json']!)).toString('utf8')));
  const dat = await stack.bytes(outputs['waveform.dat']!);
  const fromDat = WaveformData.create(new Uint8Array(dat).buffer);
  const fromJson = WaveformData.create(json);
  return { json, fromDat, fromJson };
}

test('stereo WAV: every rendition, waveform and analysis, through the real analysis stage', async () => {
  const source = await chordWithGap(dir, 'chord.wav', 8);
  const sourceSeconds = await decodedSeconds(source);
  const { job, outputs } = await throughPipeline(source, 'uploads/a/chord.wav', ['mp3-192k', 'mp3-128k', 'aac-128k', 'opus-96k', 'hls-aac-128k']);

  // Transcodes: the codec each name promises, the source's length.
  const expected: [string, string][] = [
    ['audio/mp3-192k.mp3', 'mp3'],
    ['audio/mp3-128k.mp3', 'mp3'],
    ['audio/aac-128k.m4a', 'aac'],
    ['audio/opus-96k.ogg', 'opus'],
  ];
  for (const [name, codec] of expected) {
    assert.equal(outputs[name], `jobs/${job.jobId}/${name}`);
    const file = await download(outputs[name]!, name.replaceAll('/', '_'));
    const info = await probe(file);
    assert.equal(info.streams[0]?.codec_name, codec, name);
    assert.equal(info.streams[0]?.channels, 2, name);
    const seconds = await decodedSeconds(file);
    assert.ok(Math.abs(seconds - sourceSeconds) < 0.1, `${name}: ${seconds} s vs ${sourceSeconds} s`);
  }
  for (const [name, kbps] of [['audio/mp3-192k.mp3', 192], ['audio/mp3-128k.mp3', 128]] as const) {
    const { format } = await probe(await download(outputs[name]!, `rate-${name.slice(6)}`));
    assert.ok(Math.abs((format.bit_rate ?? 0) / 1000 - kbps) < kbps * 0.05, `${name}: ${format.bit_rate} b/s`);
  }

  // HLS: a VOD playlist whose segments all exist, adding up to the source's length; the playlist stands for them in the outputs.
  assert.deepEqual(Object.keys(outputs).filter((name) => name.startsWith('audio/hls-aac-128k/')), ['audio/hls-aac-128k/index.m3u8']);
  const playlist = (await stack.bytes(outputs['audio/hls-aac-128k/index.m3u8']!)).toString('utf8');
  assert.match(playlist, /^#EXTM3U/);
  assert.match(playlist, /#EXT-X-PLAYLIST-TYPE:VOD/);
  assert.match(playlist, /#EXT-X-ENDLIST/);
  const segments = playlist.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.ok(segments.length >= 2);
  const keys = await stack.keys(job.jobId);
  for (const segment of segments) {
    assert.match(segment, /^segment-\d+\.ts$/, 'segments are named relative to the playlist');
    assert.ok(keys.includes(`jobs/${job.jobId}/audio/hls-aac-128k/${segment}`), `${segment} uploaded`);
  }
  const listed = [...playlist.matchAll(/#EXTINF:([\d.]+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  assert.ok(Math.abs(listed - sourceSeconds) < 0.15, `playlist adds up to ${listed} s`);
  const firstSegment = await probeTransportStream(await download(`jobs/${job.jobId}/audio/hls-aac-128k/${segments[0]}`, 'seg.ts'));
  assert.equal(firstSegment.streams[0]?.codec_name, 'aac');

  // Waveform: JSON and .dat agree, are readable by waveform-data, and match peaks computed independently.
  const { json, fromDat, fromJson } = await waveformOf(outputs);
  const pcm = await decodePcm(source, 2);
  assert.deepEqual(json.data, referencePeaks(pcm, 2, 256));
  assert.equal(json.length, Math.ceil(pcm.length / 2 / 256));
  for (const wf of [fromDat, fromJson]) {
    assert.deepEqual([wf.channels, wf.sample_rate, wf.scale, wf.bits, wf.length], [2, 44100, 256, 8, json.length]);
  }
  assert.deepEqual(fromDat.channel(1).max_array(), fromJson.channel(1).max_array());
  assert.ok(Math.abs(fromDat.duration - sourceSeconds) < 0.01);
  const gap = fromDat.at_time(4);
  assert.deepEqual([fromDat.channel(0).min_sample(gap), fromDat.channel(0).max_sample(gap)], [0, 0], 'silence in the gap');
  const tone = fromDat.at_time(2);
  assert.deepEqual([fromDat.channel(0).min_sample(tone), fromDat.channel(0).max_sample(tone)], [-13, 12], '0.1 of full scale');
  const png = await probe(await download(outputs['waveform.png']!, 'waveform.png'));
  assert.equal(png.streams[0]?.codec_name, 'png');

  // Analysis.
  const report = AudioAnalysisReport.parse(JSON.parse((await stack.bytes(outputs['analysis.json']!)).toString('utf8')));
  assert.ok(Math.abs(report.durationSeconds - sourceSeconds) < 0.02);
  assert.deepEqual([report.sampleRate, report.channels, report.codec, report.container, report.bitRate], [44100, 2, 'pcm_s16le', 'wav', 1_411_200]);
  assert.ok(report.loudness.truePeakDbtp !== null && Math.abs(report.loudness.truePeakDbtp - -20) < 0.3, `true peak ${report.loudness.truePeakDbtp}`);
  assert.equal(report.silence.spans.length, 1);
  const [span] = report.silence.spans;
  assert.ok(span && Math.abs(span.startSeconds - 3.5) < 0.05 && Math.abs(span.endSeconds - 4.5) < 0.05, JSON.stringify(span));

  // Nothing but the contract's outputs under the job's prefix (HLS segments stand behind their playlist).
  assert.deepEqual(keys, [...Object.values(outputs), ...segments.map((segment) => `jobs/${job.jobId}/audio/hls-aac-128k/${segment}`)].sort());
});

test('speech (eSpeak NG, mono 22.05 kHz): default renditions, one-channel waveform, analysis', async () => {
  const source = await speech(dir, 'speech.wav');
  const sourceSeconds = await decodedSeconds(source);
  const { outputs } = await throughPipeline(source, 'uploads/b/speech.wav');
  assert.deepEqual(Object.keys(outputs).filter((k) => k.startsWith('audio/')).sort(), ['audio/aac-128k.m4a', 'audio/mp3-192k.mp3']);
  for (const name of ['audio/aac-128k.m4a', 'audio/mp3-192k.mp3']) {
    const file = await download(outputs[name]!, `speech-${name.slice(6)}`);
    assert.equal((await probe(file)).streams[0]?.channels, 1);
    const seconds = await decodedSeconds(file);
    assert.ok(Math.abs(seconds - sourceSeconds) < 0.1, `${name}: ${seconds} vs ${sourceSeconds}`);
  }
  const { json, fromDat } = await waveformOf(outputs);
  assert.equal(json.channels, 1);
  assert.equal(fromDat.sample_rate, 22050);
  assert.deepEqual(json.data, referencePeaks(await decodePcm(source, 1), 1, 256));
  const report = AudioAnalysisReport.parse(JSON.parse((await stack.bytes(outputs['analysis.json']!)).toString('utf8')));
  assert.deepEqual([report.channels, report.sampleRate], [1, 22050]);
  assert.ok(report.loudness.integratedLufs !== null && report.loudness.integratedLufs < -5 && report.loudness.integratedLufs > -40);
  assert.ok(report.loudness.rangeLu !== null && report.loudness.rangeLu >= 0);
});

test('loudness against a reference: 1 kHz sine at -20 dBFS in both channels is -20 LUFS, -20 dBTP', async () => {
  const tone = await ffmpegMake(dir, 'tone.flac', ['-f', 'lavfi', '-i', 'aevalsrc=0.1*sin(2*PI*1000*t)|0.1*sin(2*PI*1000*t):s=48000:d=6']);
  await stack.put('uploads/c/tone.flac', tone, { fromFile: true });
  const job = audioJob(stack, 'uploads/c/tone.flac');
  const outputs = await runAudioTask(stack, new TrackAnalysisTask(kit), job, 'analysis');
  const report = AudioAnalysisReport.parse(JSON.parse((await stack.bytes(outputs['analysis.json']!)).toString('utf8')));
  assert.ok(Math.abs((report.loudness.integratedLufs ?? 0) - -20) <= 0.2, `integrated ${report.loudness.integratedLufs}`);
  assert.ok(Math.abs((report.loudness.truePeakDbtp ?? 0) - -20) <= 0.2, `true peak ${report.loudness.truePeakDbtp}`);
  assert.ok((report.loudness.rangeLu ?? 99) <= 0.5);
  assert.deepEqual(report.silence.spans, []);
  assert.equal(report.codec, 'flac');
});

test('surround input: the waveform and the renditions are mixed down to stereo', async () => {
  const surround = await ffmpegMake(dir, 'surround.flac', ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=3:sample_rate=48000', '-af', 'pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0']);
  await stack.put('uploads/d/surround.flac', surround, { fromFile: true });
  const job = audioJob(stack, 'uploads/d/surround.flac', ['opus-96k']);
  const waveform = await runAudioTask(stack, new WaveformTask(kit), job, 'analysis');
  assert.equal((await waveformOf(waveform)).json.channels, 2);
  const transcoded = await runAudioTask(stack, new TranscodeTask(kit), job, 'analysis');
  assert.equal((await probe(await download(transcoded['audio/opus-96k.ogg']!, 'surround.ogg'))).streams[0]?.channels, 2);
});
