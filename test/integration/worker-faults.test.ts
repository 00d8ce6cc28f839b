import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import { createAwsClients } from '../../src/aws/clients.js';
import { ConfigError, loadConfig } from '../../src/contract/env.js';
import { TaskRegistry } from '../../src/pipeline/registry.js';
import { runCli } from '../helpers/cli.js';
import { eventually, finalStatus, jobStatus, putObject, sendRaw, startStack, startTestWorker, type TestStack } from '../helpers/pipeline.js';
import { RecordingTask } from '../helpers/recording-task.js';

let stack: TestStack;
before(async () => {
  stack = await startStack({}, { VISIBILITY_TIMEOUT_SECONDS: '5' });
});
after(() => stack.stop());

const submitCsv = async (jobId: string) => {
  await putObject(stack.clients.s3, 'stageline', `uploads/${jobId}/data.csv`, 'a,b\n1,2\n');
  await sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ jobId, input: { key: `uploads/${jobId}/data.csv` } }));
};

const sleepUnlessAborted = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

test('a job that holds the only slot far longer than every health limit leaves /healthz at 200', async () => {
  const long = new RecordingTask('long', (ctx) => sleepUnlessAborted(8_000, ctx.signal));
  const worker = await startTestWorker(
    { ...stack, config: { ...stack.config, VALIDATION_CONCURRENCY: 1 } },
    { registry: new TaskRegistry().register('validation', 'csv', long), health: { maxReceiveMs: 2_500, maxIdleMs: 2_000 } },
  );
  try {
    await submitCsv('busy-1');
    await eventually(async () => (long.runs.length > 0 ? true : undefined), 'the long job to start');
    const codes: number[] = [];
    const loops: unknown[] = [];
    while ((await jobStatus(stack.store, 'busy-1'))?.stages.validation?.state !== 'succeeded') {
      const res = await fetch(`http://127.0.0.1:${worker.httpPort}/healthz`);
      codes.push(res.status);
      loops.push(await res.json());
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(codes.length >= 20, `probed through the job (${codes.length} probes)`);
    assert.ok(codes.every((c) => c === 200), JSON.stringify(loops.find((_, i) => codes[i] !== 200)));
    assert.ok(JSON.stringify(loops).includes('"state":"busy"'), 'the validation loop was seen waiting for a free slot');
  } finally {
    await worker.stop();
  }
});

test('visibility extensions failing until the lease may be gone abort the job, which then writes no outcome', async () => {
  // A worker whose SQS calls to extend visibility fail as in an SQS brown-out; receives and deletes work.
  const clients = createAwsClients(stack.config);
  let failExtensions = true;
  clients.sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (failExtensions && context.commandName === ChangeMessageVisibilityCommand.name) {
        throw Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
      }
      return next(args);
    },
    { step: 'initialize', name: 'failExtensions' },
  );
  const reasons: unknown[] = [];
  const lengthy = new RecordingTask('lengthy', async (ctx, attempt) => {
    if (attempt === 1) {
      await sleepUnlessAborted(60_000, ctx.signal).catch((err: unknown) => {
        reasons.push(err);
        throw err;
      });
    }
  });
  const worker = await startTestWorker({ ...stack, clients }, { registry: new TaskRegistry().register('validation', 'csv', lengthy) });
  try {
    await submitCsv('lease-1');
    await eventually(async () => (reasons.length > 0 ? true : undefined), 'the job to be aborted', 20_000);
    assert.equal((reasons[0] as Error).name, 'LeaseLostError');
    // No outcome from the aborted worker: neither a retry nor a failure is recorded, the stage stays running.
    await new Promise((r) => setTimeout(r, 1000));
    const status = await jobStatus(stack.store, 'lease-1');
    assert.equal(status?.stages.validation?.state, 'running');
    assert.equal(status?.stages.validation?.error, undefined);
    // The message was left alone: it comes back by itself and the job completes on the next delivery.
    failExtensions = false;
    const done = await finalStatus(stack.store, 'lease-1', 30_000);
    assert.equal(done.state, 'succeeded');
    assert.equal(done.stages.validation?.attempts, 2);
  } finally {
    await worker.stop();
  }
});

test('a stage queue without a RedrivePolicy stops the worker at start with one line naming it, unless ALLOW_NO_REDRIVE=true', async () => {
  const bare = await startStack({ withoutRedrive: ['validation'], queuePrefix: 'bare' });
  try {
    await assert.rejects(startTestWorker(bare), (err: unknown) => err instanceof ConfigError && err.message.includes(bare.emulator.queues.validation.url));
    const cli = await runCli(['worker'], { ...bare.env, HTTP_PORT: '0' }, 30_000);
    assert.equal(cli.code, 2);
    const lines = cli.stderr.trim().split('\n');
    assert.equal(lines.length, 1, cli.stderr);
    assert.match(lines[0] ?? '', /SQS_VALIDATION_QUEUE_URL: .*bare-validation.* has no RedrivePolicy/);
    const allowed = await startTestWorker({ ...bare, config: loadConfig({ ...bare.env, ALLOW_NO_REDRIVE: 'true' }) });
    await allowed.stop();
  } finally {
    await bare.stop();
  }
});
