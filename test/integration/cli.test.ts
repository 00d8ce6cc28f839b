import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { JobStatus } from '../../src/contract/status-document.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { eventually } from '../helpers/pipeline.js';

let local: ReturnType<typeof spawnCli>;
let env: Record<string, string> = {};

before(async () => {
  local = spawnCli(['local'], { LOCAL_PORT: '0', HTTP_PORT: '0', DASHBOARD_PORT: '0', LOG_LEVEL: 'warn' });
  // `stageline local` prints the exports a second shell needs; the test is that second shell.
  env = await eventually(async () => {
    const lines = [...local.stderr().matchAll(/export (\w+)=(\S+)/g)];
    return lines.some(([, k]) => k === 'SQS_EVENTS_QUEUE_URL') ? Object.fromEntries(lines.map(([, k, v]) => [k!, v!])) : undefined;
  }, 'stageline local to print its environment');
});
after(async () => {
  local.proc.kill('SIGTERM');
  assert.equal(await local.exit, 0, 'local exits 0 on SIGTERM');
});

test('submit --wait follows a job to the end and status prints it', async () => {
  const submitted = await runCli(['submit', 'samples/orders.csv', '--schema', 'samples/orders.schema.json', '--wait'], env);
  assert.equal(submitted.code, 0, submitted.stderr + submitted.stdout);
  const [jobId, ...progress] = submitted.stdout.trim().split('\n');
  assert.match(jobId ?? '', /^[0-9a-f-]{36}$/);
  assert.ok(progress.some((l) => l.includes('validation: running') || l.includes('ingestion: running') || l.includes('analysis: succeeded')), progress.join('\n'));
  assert.match(progress.at(-1) ?? '', /^\[succeeded\]/);

  const readable = await runCli(['status', jobId!], env);
  assert.equal(readable.code, 0);
  assert.match(readable.stdout, /state\s+succeeded/);
  assert.match(readable.stdout, new RegExp(`uploads/${jobId}/orders\\.csv`));
  const raw = JobStatus.parse(JSON.parse((await runCli(['status', jobId!, '--json'], env)).stdout));
  assert.equal(raw.kind, 'csv');
  assert.equal(raw.stages.analysis?.state, 'succeeded');
});

test('local serves the dashboard and its banner prints the URL; the dashboard lists the jobs', async () => {
  const url = /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(local.stderr())?.[1];
  assert.ok(url, local.stderr());
  const page = await fetch(url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>stageline<\/title>/);
  const jobs = (await (await fetch(`${url}api/jobs`)).json()) as { jobs: unknown[] };
  assert.ok(Array.isArray(jobs.jobs));
});

test('status of an unknown job exits 1 with a clear line', async () => {
  const res = await runCli(['status', 'no-such-job'], env);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /no job no-such-job/);
});

test('dlq lists dead-lettered messages with their reason, and --redrive moves them back', async () => {
  const sqs = new SQSClient({ endpoint: env.AWS_ENDPOINT_URL!, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  await sqs.send(new SendMessageCommand({ QueueUrl: env.SQS_VALIDATION_QUEUE_URL, MessageBody: '{"jobId":"x"}' }));
  const listed = await eventually(async () => {
    const res = await runCli(['dlq', 'validation'], env);
    return res.stdout.includes('1 message(s)') ? res : undefined;
  }, 'the message in the validation DLQ');
  assert.match(listed.stdout, /reason: body matches no validation message schema/);
  assert.match(listed.stdout, /\{"jobId":"x"\}/);
  const again = await runCli(['dlq', 'validation'], env);
  assert.match(again.stdout, /1 message\(s\)/, 'listing does not consume');
  const redriven = await runCli(['dlq', 'validation', '--redrive'], env);
  assert.match(redriven.stdout, /1 message\(s\) moved back to the validation queue/);
});

test('a bad configuration value stops start-up with one line naming the variable', async () => {
  const res = await runCli(['worker'], { ...env, HTTP_PORT: 'eighty' });
  assert.equal(res.code, 2);
  assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
  assert.match(res.stderr, /HTTP_PORT/);
});

test('unknown commands print the usage', async () => {
  const res = await runCli(['transcode'], {});
  assert.equal(res.code, 2);
  assert.match(res.stderr, /unknown command: transcode/);
  assert.match(res.stderr, /submit FILE/);
});
