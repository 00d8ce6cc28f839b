import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { GetObjectCommand, HeadBucketCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AbortedError, BadInputError, BadMessageError, LeaseLostError, TransientError, isInfrastructureError } from '../../src/contract/errors.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';

let proxy: FaultProxy;
let s3: S3Client;
let sqs: SQSClient;
const credentials = { accessKeyId: 'x', secretAccessKey: 'x' };

before(async () => {
  // Nothing behind it: every request is answered by the proxy's outage, as S3 and SQS answer when failing.
  proxy = await startFaultProxy('http://127.0.0.1:9');
  proxy.fail('both', 600);
  s3 = new S3Client({ region: 'us-east-1', endpoint: proxy.url, forcePathStyle: true, credentials, maxAttempts: 1 });
  sqs = new SQSClient({ region: 'us-east-1', endpoint: proxy.url, credentials, maxAttempts: 1 });
});
after(() => proxy.close());

const caught = (p: Promise<unknown>) => p.then(() => assert.fail('the call should have failed'), (err: unknown) => err);
const serviceError = (name: string, status: number) =>
  new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: name });

test('real SDK errors of a failing S3 and SQS are infrastructure errors', async () => {
  const slowDown = await caught(s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' })));
  assert.equal((slowDown as Error).name, 'SlowDown');
  assert.ok(isInfrastructureError(slowDown));
  // A HEAD answer has no body: the SDK knows only the status.
  const head = await caught(s3.send(new HeadBucketCommand({ Bucket: 'b' })));
  assert.ok(isInfrastructureError(head), `HeadBucket 503 (${(head as Error).name})`);
  const unavailable = await caught(sqs.send(new ReceiveMessageCommand({ QueueUrl: `${proxy.url}/000000000000/q` })));
  assert.equal((unavailable as Error).name, 'ServiceUnavailable');
  assert.ok(isInfrastructureError(unavailable));
});

test('a refused connection is an infrastructure error', async () => {
  const closed = new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials, maxAttempts: 1 });
  const err = await caught(closed.send(new ReceiveMessageCommand({ QueueUrl: 'http://127.0.0.1:9/000000000000/q' })));
  assert.equal((err as { code?: string }).code, 'ECONNREFUSED');
  assert.ok(isInfrastructureError(err));
});

test('throttling, 5xx and timeouts by status, name or code; anywhere in the cause chain', () => {
  for (const [name, status] of [['SlowDown', 503], ['InternalError', 500], ['BadGateway', 502], ['GatewayTimeout', 504], ['TooManyRequests', 429], ['ThrottlingException', 400], ['RequestTimeout', 400]] as const) {
    assert.ok(isInfrastructureError(serviceError(name, status)), `${name} ${status}`);
  }
  assert.ok(isInfrastructureError(Object.assign(new Error('socket timed out'), { name: 'TimeoutError' })));
  assert.ok(isInfrastructureError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })));
  assert.ok(isInfrastructureError(new TransientError('download failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) })));
  assert.ok(isInfrastructureError(new Error('status write', { cause: new Error('put', { cause: serviceError('SlowDown', 503) }) })));
});

test('not the service failing: the message, the input, our own abort, a lost lease, a permanent answer', async () => {
  const abort = new AbortController();
  abort.abort(serviceError('SlowDown', 503));
  const sdkAbort = await caught(s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }), { abortSignal: abort.signal }));
  assert.equal((sdkAbort as Error).name, 'AbortError');
  assert.equal(isInfrastructureError(sdkAbort), false, 'an abort is ours, whatever its reason');

  const wrapped = { cause: serviceError('SlowDown', 503) };
  assert.equal(isInfrastructureError(new BadInputError('CSV_NOT_TEXT', 'binary', wrapped)), false);
  assert.equal(isInfrastructureError(new BadMessageError('not JSON', wrapped)), false);
  assert.equal(isInfrastructureError(new AbortedError('shutdown', wrapped)), false);
  assert.equal(isInfrastructureError(new LeaseLostError(undefined, wrapped)), false);
  assert.equal(isInfrastructureError(serviceError('NoSuchKey', 404)), false);
  assert.equal(isInfrastructureError(serviceError('AccessDenied', 403)), false);
  assert.equal(isInfrastructureError(serviceError('NotImplemented', 501)), false, 'the same call would fail for ever');
  assert.equal(isInfrastructureError(new TransientError('ffmpeg killed by SIGSEGV')), false);
  assert.equal(isInfrastructureError('SlowDown'), false);
  assert.equal(isInfrastructureError(undefined), false);
  const loop: Error & { cause?: unknown } = new Error('loop');
  loop.cause = loop;
  assert.equal(isInfrastructureError(loop), false, 'a cyclic cause chain ends');
});
