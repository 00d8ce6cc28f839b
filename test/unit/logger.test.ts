import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/daemon/logger.js';

test('JSON lines with bindings, and secrets redacted wherever they are logged', () => {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(chunk.toString()), cb()) });
  const logger = createLogger('info', sink).child({ jobId: 'j1', stage: 'validation', messageId: 'm1' });
  logger.info({ config: { SENTRY_DSN: 'https://key@o1.ingest.sentry.io/1', AWS_SECRET_ACCESS_KEY: 'shh' } }, 'started');
  const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(entry.jobId, 'j1');
  assert.equal(entry.stage, 'validation');
  assert.equal(entry.messageId, 'm1');
  assert.equal(entry.msg, 'started');
  assert.doesNotMatch(lines[0]!, /key@o1|shh/);
});
