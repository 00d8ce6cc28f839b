import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import {
  captureJobError,
  createSentryInstrumentation,
  flushSentry,
  initSentry,
  SQS_MAX_MESSAGE_ATTRIBUTES,
} from '../../src/daemon/sentry.js';
import type { ProcessInfo } from '../../src/queue/instrumentation.js';
import { EnvelopeSink, type Span } from '../helpers/sentry-sink.js';

const queueUrl = (name: string) => `http://sqs.us-east-1.localhost:4566/000000000000/${name}`;

function received(name: string, messageId: string, attributes: Record<string, MessageAttributeValue>, receiveCount = 1): ProcessInfo {
  return { queueUrl: queueUrl(name), messageId, receiveCount, receiveLatencyMs: 42, attributes, bodySize: 128 };
}

describe('Sentry queue instrumentation', () => {
  const sink = new EnvelopeSink();
  const instrumentation = createSentryInstrumentation();

  before(async () => {
    const port = await sink.start();
    initSentry(`http://public@127.0.0.1:${port}/1`, { tracesSampleRate: 1, environment: 'test' });
  });
  after(() => sink.close());

  it('carries one trace through three stages, with the spans the Queues view reads', async () => {
    // Stage 1: the ingestion message came without trace headers (a plain job request); it publishes to validation.
    const toValidation: Record<string, MessageAttributeValue> = {};
    await instrumentation.process(received('stageline-ingestion', 'msg-ingestion', {}), () =>
      instrumentation.publish({ queueUrl: queueUrl('stageline-validation'), bodySize: 200 }, toValidation, async () => 'msg-validation'),
    );
    assert.equal(toValidation['sentry-trace']?.DataType, 'String');
    assert.equal(toValidation.baggage?.DataType, 'String');

    // Stage 2: a second delivery of the validation message; it continues the trace and publishes to analysis.
    const toAnalysis: Record<string, MessageAttributeValue> = {};
    await instrumentation.process(received('stageline-validation', 'msg-validation', toValidation, 2), () =>
      instrumentation.publish({ queueUrl: queueUrl('stageline-analysis'), bodySize: 300 }, toAnalysis, async () => 'msg-analysis'),
    );

    // Stage 3: analysis fails; the error is reported with the job's tags inside the same trace.
    await instrumentation.process(received('stageline-analysis', 'msg-analysis', toAnalysis), async () => {
      captureJobError(new Error('ffmpeg died'), { jobId: 'job-1', stage: 'analysis', messageId: 'msg-analysis' });
    });

    assert.equal(await flushSentry(2000), true);
    await sink.waitFor((s) => s.errors.length >= 1 && s.spans.filter((x) => x.op === 'queue.process').length >= 3);

    const spanOf = (op: string, queue: string): Span => {
      const found = sink.spans.find((s) => s.op === op && s.data['messaging.destination.name'] === queue);
      assert.ok(found, `a ${op} span for ${queue}`);
      return found;
    };
    const segmentOf = (span: Span): Span => {
      const found = sink.spans.find((s) => s.spanId === span.parentSpanId);
      assert.ok(found?.isSegment, 'a queue.process span sits inside its own segment (transaction)');
      return found;
    };
    const process = ['stageline-ingestion', 'stageline-validation', 'stageline-analysis'].map((q) => spanOf('queue.process', q));
    const [ingestion, validation, analysis] = process as [Span, Span, Span];
    const toValidationSpan = spanOf('queue.publish', 'stageline-validation');
    const toAnalysisSpan = spanOf('queue.publish', 'stageline-analysis');

    const traceId = ingestion.traceId;
    assert.match(traceId, /^[0-9a-f]{32}$/);
    for (const span of [validation, analysis, toValidationSpan, toAnalysisSpan]) assert.equal(span.traceId, traceId);

    // Publishing happens inside a stage's processing, and the next stage continues from that publish span.
    assert.equal(toValidationSpan.parentSpanId, ingestion.spanId);
    assert.equal(segmentOf(validation).parentSpanId, toValidationSpan.spanId);
    assert.equal(toAnalysisSpan.parentSpanId, validation.spanId);
    assert.equal(segmentOf(analysis).parentSpanId, toAnalysisSpan.spanId);

    assert.deepEqual(toValidationSpan.data, {
      ...toValidationSpan.data,
      'messaging.system': 'aws_sqs',
      'messaging.destination.name': 'stageline-validation',
      'messaging.message.id': 'msg-validation',
      'messaging.message.body.size': 200,
    });
    assert.deepEqual(validation.data, {
      ...validation.data,
      'messaging.system': 'aws_sqs',
      'messaging.message.id': 'msg-validation',
      'messaging.destination.name': 'stageline-validation',
      'messaging.message.retry.count': 1,
      'messaging.message.receive.latency': 42,
      'messaging.message.body.size': 128,
    });

    const error = sink.errors[0];
    assert.ok(error);
    assert.equal(error.contexts.trace.trace_id, traceId);
    assert.equal(error.contexts.trace.span_id, analysis.spanId);
    assert.deepEqual(error.tags, { ...error.tags, jobId: 'job-1', stage: 'analysis', messageId: 'msg-analysis' });
  });

  it('leaves the trace out rather than exceed the SQS attribute limit', async () => {
    const full: Record<string, MessageAttributeValue> = Object.fromEntries(
      Array.from({ length: SQS_MAX_MESSAGE_ATTRIBUTES - 1 }, (_, i) => [`a${i}`, { DataType: 'String', StringValue: 'x' }]),
    );
    let sent = false;
    await instrumentation.publish({ queueUrl: queueUrl('stageline-validation'), bodySize: 1 }, full, async () => {
      sent = true;
      return 'msg-1';
    });
    assert.equal(sent, true);
    assert.equal(Object.keys(full).length, SQS_MAX_MESSAGE_ATTRIBUTES - 1);
    assert.equal('sentry-trace' in full, false);
  });
});
