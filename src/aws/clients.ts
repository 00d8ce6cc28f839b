import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Config } from '../contract/env.js';

export interface AwsClients {
  sqs: SQSClient;
  s3: S3Client;
}

export interface HttpTimeouts {
  /** TCP connect (TLS not included): a healthy endpoint connects in milliseconds. */
  connectionTimeoutMs: number;
  /**
   * From sending the request (its body included) until the response headers arrive. In
   * @smithy/node-http-handler 4.x this is a timer over the whole request, not socket inactivity, and it
   * only throws (a `TimeoutError`, code ETIMEDOUT) with `throwOnRequestTimeout`; otherwise it merely logs
   * a warning. It stops at the headers, so a long download is not cut by it: see `socketTimeoutMs`.
   */
  requestTimeoutMs: number;
  /** Inactivity of the socket in either direction, response body included: a transfer that stalls. */
  socketTimeoutMs: number;
}

/**
 * Every call fails instead of hanging; the failure is a timeout, which `isInfrastructureError` counts
 * as the service's fault. SQS: a long poll (at most 20 s) answers by then, so 30 s leaves 10 s for a
 * slow answer. S3: 60 s covers an 8 MiB multipart part uploaded at ~150 KB/s before S3's answer; two
 * minutes without one byte moving is a dead transfer, not a reader pausing the stream.
 */
export const awsTimeouts: Record<keyof AwsClients, HttpTimeouts> = {
  sqs: { connectionTimeoutMs: 5_000, requestTimeoutMs: 30_000, socketTimeoutMs: 30_000 },
  s3: { connectionTimeoutMs: 5_000, requestTimeoutMs: 60_000, socketTimeoutMs: 120_000 },
};

function requestHandler(t: HttpTimeouts): NodeHttpHandler {
  return new NodeHttpHandler({
    connectionTimeout: t.connectionTimeoutMs,
    requestTimeout: t.requestTimeoutMs,
    throwOnRequestTimeout: true,
    socketTimeout: t.socketTimeoutMs,
  });
}

/**
 * SDK clients for the configured region and endpoint. With an endpoint override (LocalStack, fauxqs)
 * S3 uses path-style addressing, since bucket subdomains of a local host rarely resolve; the SQS client
 * always sends to the endpoint, whatever host a queue URL names.
 */
export function createAwsClients(
  config: Pick<Config, 'AWS_REGION' | 'AWS_ENDPOINT_URL'>,
  timeouts: Record<keyof AwsClients, HttpTimeouts> = awsTimeouts,
): AwsClients {
  const common = {
    region: config.AWS_REGION,
    ...(config.AWS_ENDPOINT_URL ? { endpoint: config.AWS_ENDPOINT_URL } : {}),
  };
  const sqs = new SQSClient({ ...common, requestHandler: requestHandler(timeouts.sqs) });
  const s3 = new S3Client({ ...common, forcePathStyle: Boolean(config.AWS_ENDPOINT_URL), requestHandler: requestHandler(timeouts.s3) });
  // The SDK's logger middleware copies every input and output through its sensitive-data filter for the
  // logger, even the no-op one we leave it (we log calls ourselves): ~6% of a small call's CPU (BENCHMARKS.md, Tiny jobs).
  for (const client of [sqs, s3]) client.middlewareStack.remove(sdkLoggerMiddleware);
  return { sqs, s3 };
}

/** The name @aws-sdk/core gives its logger middleware in every client's stack. */
export const sdkLoggerMiddleware = 'loggerMiddleware';
