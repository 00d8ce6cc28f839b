import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/contract/env.js';
import { audioLimits } from '../../src/tasks/audio/ffmpeg/input-policy.js';

test('audio limits come from the environment, with the documented defaults', () => {
  const limits = audioLimits(loadConfig({}));
  assert.deepEqual(
    { ...limits, runTimeoutMs: undefined },
    { maxBytes: 2 * 1024 ** 3, maxDurationSeconds: 10_800, minSampleRate: 8000, maxSampleRate: 384_000, maxChannels: 8, probeTimeoutMs: 30_000, runTimeoutMs: undefined },
  );
  assert.equal(limits.runTimeoutMs(3600), 60_000 + 360_000);
  const set = audioLimits(
    loadConfig({ AUDIO_MAX_DURATION_SECONDS: '60', AUDIO_MIN_SAMPLE_RATE: '16000', AUDIO_MAX_SAMPLE_RATE: '96000', AUDIO_MAX_CHANNELS: '2', AUDIO_PROBE_TIMEOUT_SECONDS: '5', AUDIO_RUN_TIMEOUT_SECONDS: '10', AUDIO_RUN_TIMEOUT_RATIO: '0.5' }),
  );
  assert.deepEqual([set.maxDurationSeconds, set.minSampleRate, set.maxSampleRate, set.maxChannels, set.probeTimeoutMs], [60, 16_000, 96_000, 2, 5000]);
  assert.equal(set.runTimeoutMs(100), 60_000);
});

test('a limit out of its range stops start-up, naming the variable', () => {
  const bad: Record<string, string>[] = [
    { AUDIO_MAX_DURATION_SECONDS: '0' },
    { AUDIO_MAX_DURATION_SECONDS: 'three hours' },
    // 44.1 and 48 kHz are always accepted: the bounds cannot cross them.
    { AUDIO_MIN_SAMPLE_RATE: '48000' },
    { AUDIO_MAX_SAMPLE_RATE: '44100' },
    { AUDIO_MAX_CHANNELS: '9' },
    { AUDIO_MAX_CHANNELS: '0' },
    { AUDIO_PROBE_TIMEOUT_SECONDS: '-1' },
    { AUDIO_RUN_TIMEOUT_RATIO: '0' },
  ];
  for (const env of bad) {
    const [name] = Object.keys(env);
    assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`${name}:`), JSON.stringify(env));
  }
});
