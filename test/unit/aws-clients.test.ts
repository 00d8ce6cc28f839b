import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { NodeHttpHandler } from '@smithy/node-http-handler';
import { awsTimeouts, createAwsClients, sdkLoggerMiddleware, type HttpTimeouts } from '../../src/aws/clients.js';
import { isInfrastructureError } from '../../src/contract/errors.js';

process.env.AWS_ACCESS_KEY_ID ??= 'x';
process.env.AWS_SECRET_ACCESS_KEY ??= 'x';

async function serve(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const short: HttpTimeouts = { connectionTimeoutMs: 1000, requestTimeoutMs: 300, socketTimeoutMs: 600 };
const queueUrl = 'http://127.0.0.1/000000000000/q';

test('defaults: every client has a connection, request and socket timeout; SQS waits longer than a 20 s long poll', async (t) => {
  assert.ok(awsTimeouts.sqs.requestTimeoutMs > 20_000 && awsTimeouts.sqs.socketTimeoutMs > 20_000, 'a long poll is idle for up to 20 s');
  const endpoint = await serve(t, (req, res) => {
    req.resume();
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' }).end('{"__type":"com.amazonaws.sqs#QueueDoesNotExist"}');
  });
  const clients = createAwsClients({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: endpoint });
  await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl })).catch(() => {});
  await clients.s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' })).catch(() => {});
  for (const service of ['sqs', 's3'] as const) {
    const handler = clients[service].config.requestHandler as NodeHttpHandler;
    const used = handler.httpHandlerConfigs();
    assert.equal(used.connectionTimeout, awsTimeouts[service].connectionTimeoutMs, service);
    assert.equal(used.requestTimeout, awsTimeouts[service].requestTimeoutMs, service);
    assert.equal(used.socketTimeout, awsTimeouts[service].socketTimeoutMs, service);
    assert.equal(used.throwOnRequestTimeout, true, `${service}: without it the request timeout only logs a warning`);
  }
});

test('a service that accepts the request and never answers fails the call with a timeout, an infrastructure error', async (t) => {
  const endpoint = await serve(t, (req) => void req.resume());
  const { sqs } = createAwsClients({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: endpoint }, { sqs: short, s3: short });
  const started = Date.now();
  const err = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl })).then(
    () => assert.fail('should time out'),
    (e: unknown) => e,
  );
  assert.equal((err as Error).name, 'TimeoutError');
  assert.match((err as Error).message, /300 ms requestTimeout/);
  assert.ok(isInfrastructureError(err));
  // Three attempts (the SDK's own retries) of 300 ms each, plus backoff: far from hanging.
  assert.ok(Date.now() - started < 10_000, `failed after ${Date.now() - started} ms`);
});

test('the request timeout ends at the response headers: a slow body that keeps moving is read whole; a stalled one fails', async (t) => {
  const endpoint = await serve(t, (req, res) => {
    req.resume();
    const chunks = req.url?.includes('stalled') ? 2 : 10;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 10 });
    let sent = 0;
    const timer = setInterval(() => {
      res.write('x');
      if (++sent === chunks) {
        clearInterval(timer);
        if (chunks === 10) res.end();
      }
    }, 100);
    res.on('close', () => clearInterval(timer));
  });
  const { s3 } = createAwsClients({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: endpoint }, { sqs: short, s3: short });
  const moving = await s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'moving' }));
  assert.equal(await moving.Body?.transformToString(), 'xxxxxxxxxx', 'a 1 s body outlives the 300 ms request timeout');
  const stalled = await s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'stalled' }));
  await assert.rejects(stalled.Body!.transformToString(), (err: Error) => {
    assert.equal(err.name, 'TimeoutError', err.message);
    assert.match(err.message, /600 ms of inactivity/);
    assert.ok(isInfrastructureError(err));
    return true;
  });
});

test('clients carry no SDK logger middleware (it filtered every input and output for a no-op logger) and still answer', async (t) => {
  const endpoint = await serve(t, (req, res) => {
    req.resume();
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' }).end('{"__type":"com.amazonaws.sqs#QueueDoesNotExist"}');
  });
  const clients = createAwsClients({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: endpoint });
  for (const service of ['sqs', 's3'] as const) {
    const names = clients[service].middlewareStack.identify().map((entry) => entry.split(' ')[0]);
    assert.ok(names.length > 5, `${service}: the stack is listed (${names.join(', ')})`);
    assert.ok(!names.includes(sdkLoggerMiddleware), `${service}: ${sdkLoggerMiddleware} is still in the stack`);
  }
  const err = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl })).then(
    () => assert.fail('the queue does not exist'),
    (e: unknown) => e,
  );
  assert.equal((err as Error).name, 'QueueDoesNotExist');
});
