import { randomUUID } from 'node:crypto';
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultTarget = 's3' | 'sqs' | 'both';
type Service = 's3' | 'sqs';

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: give it to a client as AWS_ENDPOINT_URL. */
  readonly url: string;
  /** Answers 503 to every request for `target` from now for `seconds`, then forwards again. */
  fail(target: FaultTarget, seconds: number): void;
  /** Ends any outage now. */
  heal(): void;
  /** Requests answered with 503 so far, per service: proof that an outage really happened. */
  readonly failed: Record<Service, number>;
  /** Requests forwarded to the emulator so far, per service. */
  readonly forwarded: Record<Service, number>;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of the emulator that forwards everything and, on command, answers 503 for N
 * seconds the way each service does when it is failing: S3 with a `SlowDown` XML error, SQS (AWS JSON
 * 1.0 protocol, which @aws-sdk/client-sqs 3.x speaks) with a `ServiceUnavailable` JSON error. SQS
 * requests carry `x-amz-target: AmazonSQS.<Action>`; everything else is S3 path-style.
 */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  const failUntil: Record<Service, number> = { s3: 0, sqs: 0 };
  const failed: Record<Service, number> = { s3: 0, sqs: 0 };
  const forwarded: Record<Service, number> = { s3: 0, sqs: 0 };

  const server = createServer((req, res) => {
    const service: Service = req.headers['x-amz-target'] ? 'sqs' : 's3';
    if (Date.now() < failUntil[service]) {
      failed[service] += 1;
      // Read the body first: answering before it is consumed can reset the connection mid-upload,
      // which would be a network error rather than the 503 this proxy promises.
      req.resume();
      req.on('end', () => answerUnavailable(service, req, res));
      return;
    }
    forwarded[service] += 1;
    const out = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    failed,
    forwarded,
    fail(on, seconds) {
      const until = Date.now() + seconds * 1000;
      if (on !== 'sqs') failUntil.s3 = until;
      if (on !== 's3') failUntil.sqs = until;
    },
    heal() {
      failUntil.s3 = 0;
      failUntil.sqs = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

function answerUnavailable(service: Service, req: IncomingMessage, res: ServerResponse): void {
  const requestId = randomUUID();
  if (service === 'sqs') {
    const body = JSON.stringify({ __type: 'com.amazonaws.sqs#ServiceUnavailable', message: 'Service Unavailable (fault proxy)' });
    res.writeHead(503, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': Buffer.byteLength(body),
      'x-amzn-requestid': requestId,
      // SQS is "awsQueryCompatible": the SDK takes the error code from this header when it is present.
      'x-amzn-query-error': 'ServiceUnavailable;Receiver',
    });
    res.end(body);
    return;
  }
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>${requestId}</RequestId><HostId>fault-proxy</HostId></Error>`;
  // A HEAD response has no body: the SDK then names the error from the status code alone.
  res.writeHead(503, { 'content-type': 'application/xml', 'content-length': req.method === 'HEAD' ? 0 : Buffer.byteLength(body), 'x-amz-request-id': requestId });
  res.end(req.method === 'HEAD' ? undefined : body);
}
