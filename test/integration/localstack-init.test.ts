import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { z } from 'zod';
import { EnvSchema } from '../../src/contract/env.js';
import { startEmulator, type Emulator } from '../../src/cli/emulator.js';

const script = fileURLToPath(new URL('../../localstack/ready.d/init-stageline.sh', import.meta.url));
// A shim (pyenv's) can be on PATH with no CLI behind it: only a working `aws --version` counts.
const awsMissing = spawnSync('aws', ['--version']).status !== 0;
const skip = awsMissing ? 'no working AWS CLI (`aws --version` failed); .ci/run installs Debian\'s awscli' : false;

const RedrivePolicy = z.object({ deadLetterTargetArn: z.string(), maxReceiveCount: z.coerce.number() });
const QueuePolicy = z.object({
  Statement: z.array(z.object({ Effect: z.string(), Principal: z.object({ Service: z.string() }), Action: z.string(), Resource: z.string() })),
});

interface QueueFacts {
  name: string;
  visibilityTimeout: string | undefined;
  redrive: { deadLetterQueue: string; maxReceiveCount: number } | undefined;
}

/** Every queue an endpoint has, by name, with the attributes stageline depends on. */
async function queueFacts(sqs: SQSClient): Promise<Map<string, QueueFacts>> {
  const urls = (await sqs.send(new ListQueuesCommand({}))).QueueUrls ?? [];
  const facts = new Map<string, QueueFacts>();
  for (const url of urls) {
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
    const redrive = attrs.RedrivePolicy ? RedrivePolicy.parse(JSON.parse(attrs.RedrivePolicy)) : undefined;
    const name = url.split('/').pop() ?? url;
    facts.set(name, {
      name,
      visibilityTimeout: attrs.VisibilityTimeout,
      redrive: redrive && { deadLetterQueue: redrive.deadLetterTargetArn.split(':').pop() ?? '', maxReceiveCount: redrive.maxReceiveCount },
    });
  }
  return facts;
}

function clients(endpoint: string) {
  const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
  return { sqs: new SQSClient(common), s3: new S3Client({ ...common, forcePathStyle: true }) };
}

/** Runs the init script the way an operator would, against `endpoint`, isolated from any local AWS profile. */
async function runInit(endpoint: string, env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  const { AWS_PROFILE: _profile, ...inherited } = process.env;
  return promisify(execFile)('bash', [script], {
    env: { ...inherited, AWS_ENDPOINT_URL: endpoint, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', ...env },
    timeout: 120_000,
  });
}

describe('localstack/ready.d/init-stageline.sh against fauxqs with the AWS CLI', { skip }, () => {
  let fauxqs: FauxqsServer;
  let emulator: Emulator;
  before(async () => {
    fauxqs = await startFauxqs({ port: 0, logger: false });
    emulator = await startEmulator();
  });
  after(async () => {
    await fauxqs?.stop();
    await emulator?.stop();
  });

  it('creates the same bucket, queues, DLQs and redrive policies as the embedded emulator, and can run again', async () => {
    // fauxqs answers PutBucketNotificationConfiguration with 200 but keeps nothing: the script notices and
    // fails unless told the notification is optional. That first run has created everything before it.
    await assert.rejects(runInit(fauxqs.address), (err: Error & { stderr?: string }) => {
      assert.match(err.stderr ?? '', /notification was not kept by the endpoint/);
      return true;
    });
    const { stdout, stderr } = await runInit(fauxqs.address, { S3_NOTIFICATION_OPTIONAL: 'true' });
    assert.match(stderr, /did not keep the S3 notification/);

    const { sqs, s3 } = clients(fauxqs.address);
    await s3.send(new HeadBucketCommand({ Bucket: 'stageline' }));
    const created = await queueFacts(sqs);
    const reference = await queueFacts(clients(emulator.endpoint).sqs);
    assert.deepEqual([...created.keys()].sort(), [...reference.keys()].sort());
    for (const [name, facts] of reference) {
      const mine = created.get(name);
      assert.deepEqual({ redrive: mine?.redrive, visibilityTimeout: mine?.visibilityTimeout }, { redrive: facts.redrive, visibilityTimeout: facts.visibilityTimeout }, name);
    }
    assert.equal(created.get('stageline-ingestion')?.redrive?.deadLetterQueue, 'stageline-ingestion-dlq');
    assert.equal(created.get('stageline-ingestion')?.redrive?.maxReceiveCount, 5);

    // S3 must be allowed to send to the ingestion queue for the notification to work on AWS and LocalStack.
    const ingestionUrl = (await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'stageline-ingestion' }))).QueueUrls?.find((u) => u.endsWith('/stageline-ingestion'));
    const policy = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: ingestionUrl, AttributeNames: ['Policy'] }))).Attributes?.Policy;
    assert.deepEqual(QueuePolicy.parse(JSON.parse(policy ?? '{}')).Statement[0], {
      Effect: 'Allow',
      Principal: { Service: 's3.amazonaws.com' },
      Action: 'sqs:SendMessage',
      Resource: 'arn:aws:sqs:us-east-1:000000000000:stageline-ingestion',
    });

    // What it prints is a valid worker environment naming those queues.
    const printed = Object.fromEntries(stdout.trim().split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2)));
    const config = EnvSchema.parse({ ...printed, AWS_ENDPOINT_URL: fauxqs.address });
    assert.equal(config.S3_BUCKET, 'stageline');
    assert.match(config.SQS_INGESTION_QUEUE_URL ?? '', /\/stageline-ingestion$/);
    assert.match(config.SQS_VALIDATION_QUEUE_URL ?? '', /\/stageline-validation$/);
    assert.match(config.SQS_ANALYSIS_QUEUE_URL ?? '', /\/stageline-analysis$/);
    assert.match(config.SQS_EVENTS_QUEUE_URL ?? '', /\/stageline-events$/);
  });

  it('takes the bucket and queue prefix from the environment, with the endpoint named by host', async () => {
    // A host name rather than an IP, as in compose (http://fauxqs:4566): S3 calls must stay path-style.
    await runInit(fauxqs.address.replace('127.0.0.1', 'localhost'), { S3_NOTIFICATION_OPTIONAL: 'true', S3_BUCKET: 'media-in', QUEUE_PREFIX: 'media', MAX_RECEIVE_COUNT: '3' });
    const { sqs, s3 } = clients(fauxqs.address);
    await s3.send(new HeadBucketCommand({ Bucket: 'media-in' }));
    const created = await queueFacts(sqs);
    assert.deepEqual(created.get('media-analysis')?.redrive, { deadLetterQueue: 'media-analysis-dlq', maxReceiveCount: 3 });
    assert.ok(created.has('media-events'));
  });
});
