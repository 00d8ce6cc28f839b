import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { ConfigError, loadConfig, queueUrlFor } from '../../src/contract/env.js';

test('defaults follow the contract', () => {
  const c = loadConfig({});
  assert.equal(c.AWS_REGION, 'us-east-1');
  assert.deepEqual(c.STAGES, ['ingestion', 'validation', 'analysis']);
  assert.equal(c.DRAIN_TIMEOUT_SECONDS, 25);
  assert.equal(c.HTTP_PORT, 8080);
  assert.equal(c.LOG_LEVEL, 'info');
  assert.ok(c.VALIDATION_CONCURRENCY >= 1);
  assert.equal(c.CSV_THREADS, Math.min(availableParallelism(), 4));
  assert.equal(loadConfig({ CSV_THREADS: '1' }).CSV_THREADS, 1);
});

test('a bad value stops start-up with one line naming the variable', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ STAGES: 'ingestion,transcoding' }, /^STAGES: /],
    [{ HTTP_PORT: 'eighty' }, /^HTTP_PORT: .*"eighty"/],
    [{ INGESTION_CONCURRENCY: '0' }, /^INGESTION_CONCURRENCY: /],
    [{ SQS_ANALYSIS_QUEUE_URL: 'not a url' }, /^SQS_ANALYSIS_QUEUE_URL: /],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: /],
    [{ CSV_THREADS: '0' }, /^CSV_THREADS: /],
  ];
  for (const [env, pattern] of cases) {
    assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && pattern.test(err.message) && !err.message.includes('\n'));
  }
});

test('secrets are never echoed in a config error', () => {
  assert.throws(() => loadConfig({ SENTRY_DSN: 'secret-value' }), (err: Error) => err.message.startsWith('SENTRY_DSN') && !err.message.includes('secret-value'));
});

test('empty variables count as unset; a stage without its queue URL names the variable', () => {
  const c = loadConfig({ S3_BUCKET: '', STAGES: 'analysis' });
  assert.equal(c.S3_BUCKET, undefined);
  assert.throws(() => queueUrlFor(c, 'analysis'), /SQS_ANALYSIS_QUEUE_URL/);
});
