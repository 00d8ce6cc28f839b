import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { AbortedError, BadInputError, TransientError } from '../../src/contract/errors.js';
import { asTaskError } from '../../src/tasks/audio/ffmpeg/failures.js';
import { FfmpegExitError, FluentFfmpegRunner } from '../../src/media/ffmpeg.js';
import { resolveFfmpegBinaries } from '../../src/media/ffmpeg-binaries.js';
import { FfprobeProber } from '../../src/media/ffprobe.js';
import { audioInputArgs } from '../../src/tasks/audio/ffmpeg/input-policy.js';
import { ToolCrashError, ToolTimeoutError } from '../../src/media/tool-errors.js';
import { alive, signallingTool, stubbornTool } from '../helpers/audio-fake-tools.js';
import { binaries } from '../helpers/audio-media.js';

const never = new AbortController().signal;
/** An endless silent source: the run only ends when it is stopped. */
const endless = { inputArgs: ['-nostdin', '-loglevel', 'error', '-f', 'lavfi'], input: 'anullsrc=r=8000', outputArgs: ['-f', 'null'], output: '-' };

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audio-runner-'));
  // fluent-ffmpeg asks ffmpeg for its formats and encoders before its first run in a process; do that
  // now, so the timings below measure the runs themselves.
  await new FluentFfmpegRunner({ ffmpegPath: binaries.ffmpeg }).run({ what: 'warm-up', ...endless, outputArgs: ['-t', '0.1', '-f', 'null'], timeoutMs: 30_000, signal: never });
});
after(() => rm(dir, { recursive: true, force: true }));

const pidsIn = async (log: string) => [...(await readFile(log, 'utf8')).matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));

/** A run past its time budget or a crash is the input's doing: a coded, permanent failure. */
const isPermanent = (err: unknown, code: string) => {
  const mapped = asTaskError(err);
  assert.ok(mapped instanceof BadInputError, String(mapped));
  assert.equal(mapped.code, code);
  return true;
};

test('timeout: SIGTERM first, SIGKILL when ignored, settled only once the process is gone', async () => {
  const tool = await stubbornTool(dir, 'ffmpeg-stubborn');
  const runner = new FluentFfmpegRunner({ ffmpegPath: tool.path, killGraceMs: 300 });
  const started = Date.now();
  await assert.rejects(runner.run({ what: 'stubborn', ...endless, timeoutMs: 300, signal: never }), (err: unknown) => {
    assert.ok(err instanceof ToolTimeoutError, String(err));
    assert.match(err.message, /stubborn ran longer than/);
    return isPermanent(err, 'AUDIO_TIMEOUT');
  });
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 550 && elapsed < 5000, `stopped after ${elapsed} ms`);
  const log = await readFile(tool.log, 'utf8');
  assert.match(log, /TERM/, 'SIGTERM was sent first');
  for (const pid of await pidsIn(tool.log)) assert.equal(alive(pid), false, `pid ${pid} is gone`);
});

test('abort: a running ffmpeg is stopped promptly and the run rejects as aborted', async () => {
  const runner = new FluentFfmpegRunner({ ffmpegPath: binaries.ffmpeg });
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('shutdown')), 300);
  const started = Date.now();
  await assert.rejects(runner.run({ what: 'endless', ...endless, timeoutMs: 60_000, signal: controller.signal }), AbortedError);
  assert.ok(Date.now() - started < 2000, `stopped after ${Date.now() - started} ms`);
});

test('abort before the process exists: it is killed as soon as it starts', async () => {
  const tool = await stubbornTool(dir, 'ffmpeg-late');
  const runner = new FluentFfmpegRunner({ ffmpegPath: tool.path, killGraceMs: 5000 });
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(runner.run({ what: 'late', ...endless, timeoutMs: 60_000, signal: controller.signal }), AbortedError);
  for (const pid of await pidsIn(tool.log).catch(() => [])) assert.equal(alive(pid), false);
});

test('a failing run keeps the end of stderr for the error', async () => {
  const runner = new FluentFfmpegRunner({ ffmpegPath: binaries.ffmpeg });
  const missing = join(dir, 'does-not-exist.wav');
  await assert.rejects(
    runner.run({ what: 'missing input', inputArgs: ['-nostdin', '-loglevel', 'error'], input: missing, outputArgs: ['-f', 'null'], output: '-', timeoutMs: 10_000, signal: never }),
    (err: unknown) => err instanceof FfmpegExitError && err.exitCode !== 0 && /No such file or directory/.test(err.stderrTail),
  );
});

test('stdout consumer failing: its error is reported and ffmpeg is stopped', async () => {
  const runner = new FluentFfmpegRunner({ ffmpegPath: binaries.ffmpeg });
  const failing = new Writable({ write: (_chunk, _enc, done) => done(new Error('consumer broke')) });
  const started = Date.now();
  await assert.rejects(
    runner.run({ what: 'piped', ...endless, outputArgs: ['-f', 's16le'], output: failing, timeoutMs: 60_000, signal: never }),
    /consumer broke/,
  );
  assert.ok(Date.now() - started < 3000);
});

test('ffprobe: a wall-clock timeout with the same escalation', async () => {
  const tool = await stubbornTool(dir, 'ffprobe-stubborn');
  const prober = new FfprobeProber(tool.path, audioInputArgs, 300, 300);
  await assert.rejects(
    prober.probe(join(dir, 'x.wav'), never),
    (err: unknown) => err instanceof ToolTimeoutError && /ffprobe ran longer/.test(err.message) && isPermanent(err, 'AUDIO_TIMEOUT'),
  );
  assert.match(await readFile(tool.log, 'utf8'), /TERM/);
  for (const pid of await pidsIn(tool.log)) assert.equal(alive(pid), false);
});

test('a crash (a signal the tool raised itself) is permanent; a kill from outside may not happen again', async () => {
  for (const signal of ['SIGABRT', 'SIGSEGV'] as const) {
    const runner = new FluentFfmpegRunner({ ffmpegPath: await signallingTool(dir, `ffmpeg-${signal}`, signal) });
    await assert.rejects(runner.run({ what: 'crash', ...endless, timeoutMs: 10_000, signal: never }), (err: unknown) => {
      assert.ok(err instanceof ToolCrashError && err.signal === signal, String(err));
      return isPermanent(err, 'AUDIO_TOOL_CRASHED');
    });
    const prober = new FfprobeProber(await signallingTool(dir, `ffprobe-${signal}`, signal), audioInputArgs, 10_000);
    await assert.rejects(prober.probe(join(dir, 'x.wav'), never), (err: unknown) => err instanceof ToolCrashError && isPermanent(err, 'AUDIO_TOOL_CRASHED'));
  }
  const killed = new FluentFfmpegRunner({ ffmpegPath: await signallingTool(dir, 'ffmpeg-SIGKILL', 'SIGKILL') });
  await assert.rejects(killed.run({ what: 'killed', ...endless, timeoutMs: 10_000, signal: never }), (err: unknown) => {
    assert.ok(err instanceof TransientError && /killed by SIGKILL/.test(err.message), String(err));
    assert.equal(asTaskError(err), err, 'left transient');
    return true;
  });
});

test('two runners with different binaries each run their own (fluent keeps one path per process)', async () => {
  const tool = await stubbornTool(dir, 'ffmpeg-other');
  const stubborn = new FluentFfmpegRunner({ ffmpegPath: tool.path, killGraceMs: 100 });
  const real = new FluentFfmpegRunner({ ffmpegPath: binaries.ffmpeg });
  const results = await Promise.allSettled([
    stubborn.run({ what: 'stub', ...endless, timeoutMs: 1500, signal: never }),
    // A generous limit: which binary ran is the point, and a loaded machine can take a second to start ffmpeg.
    real.run({ what: 'real', ...endless, outputArgs: ['-t', '0.2', '-f', 'null'], timeoutMs: 15_000, signal: never }),
  ]);
  assert.equal(results[0].status, 'rejected');
  assert.equal(results[1].status, 'fulfilled', 'the real ffmpeg ran, not the stub');
});

test('binaries: FFMPEG_PATH/FFPROBE_PATH first, then PATH, then the bundled packages', () => {
  const explicit = resolveFfmpegBinaries({ FFMPEG_PATH: binaries.ffmpeg, FFPROBE_PATH: binaries.ffprobe, PATH: '' });
  assert.deepEqual(explicit, { ffmpeg: binaries.ffmpeg, ffprobe: binaries.ffprobe });
  const bundled = resolveFfmpegBinaries({ PATH: dir });
  assert.match(bundled.ffmpeg, /@ffmpeg-installer/);
  assert.match(bundled.ffprobe, /@ffprobe-installer/);
  assert.throws(() => resolveFfmpegBinaries({ FFMPEG_PATH: join(dir, 'nope'), PATH: '' }), /FFMPEG_PATH: .* is not an executable/);
});
