import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Config } from './env.js';

export interface AwsClients {
  sqs: SQSClient;
  s3: S3Client;
}

/**
 * SDK clients for the configured region and endpoint. With an endpoint override (LocalStack, fauxqs)
 * S3 uses path-style addressing, since bucket subdomains of a local host rarely resolve; the SQS client
 * always sends to the endpoint, whatever host a queue URL names.
 */
export function createAwsClients(config: Pick<Config, 'AWS_REGION' | 'AWS_ENDPOINT_URL'>): AwsClients {
  const common = {
    region: config.AWS_REGION,
    ...(config.AWS_ENDPOINT_URL ? { endpoint: config.AWS_ENDPOINT_URL } : {}),
  };
  return {
    sqs: new SQSClient(common),
    s3: new S3Client({ ...common, forcePathStyle: Boolean(config.AWS_ENDPOINT_URL) }),
  };
}
