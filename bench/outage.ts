/**
 * `npm run bench:outage [-- --seconds=60] [--jobs=12] [--service=s3|sqs|both] [--max-receive-count=5]`
 *
 * What an outage of S3 or SQS costs a batch of jobs. Two identical stacks run side by side in one run,
 * each an in-process fauxqs, a fault proxy, and a worker whose S3 and SQS calls go through the proxy.
 * Each stage's task is a recording task (one S3 write) and ingestion reads the input to detect its kind,
 * so a job is almost all S3 and SQS calls and costs next to no CPU: the two stacks do not slow each other
 * and the difference is the outage's. Both get the same batch of small CSV jobs; on one, the proxy answers 503
 * (S3 SlowDown, SQS ServiceUnavailable) for `--seconds` from the moment the batch is sent, then heals.
 * Reported per stack: the batch's wall time (send to the last job final), jobs succeeded, DLQ depth,
 * the highest receive count any message reached, 503s answered, and how long the circuit breaker was
 * open. The time the outage adds is the difference of the two wall times.
 */
import type { ReceiveMessageCommandOutput } from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { createAwsClients } from '../src/aws/clients.js';
import { startWorker } from '../src/daemon/worker.js';
import { stageNames } from '../src/contract/stages.js';
import { TaskRegistry } from '../src/pipeline/registry.js';
import { startFaultProxy, type FaultTarget } from '../test/helpers/fault-proxy.js';
import { jobStatus, putObject, queueDepth, sendRaw, startStack } from '../test/helpers/pipeline.js';
import { RecordingTask } from '../test/helpers/recording-task.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string | undefined]));
const outageSeconds = Number(args.get('seconds') ?? 60);
const jobCount = Number(args.get('jobs') ?? 20);
const service = (args.get('service') ?? 's3') as FaultTarget;
const maxReceiveCount = Number(args.get('max-receive-count') ?? 5);
if (!['s3', 'sqs', 'both'].includes(service)) throw new Error('--service is s3, sqs or both');

interface Result {
  wallSeconds: number;
  succeeded: number;
  deadLettered: number;
  maxReceiveCount: number;
  answered503: number;
  /** How long each service's circuit breaker was open, summed over its openings. */
  breakerOpenSeconds: Record<'s3' | 'sqs', number>;
}

const csv = 'id,region,amount\n1,north,12.50\n2,south,7.25\n';

async function runBatch(name: string, outage: boolean): Promise<Result> {
  const stack = await startStack({ maxReceiveCount });
  const proxy = await startFaultProxy(stack.emulator.endpoint);
  const config = { ...stack.config, AWS_ENDPOINT_URL: proxy.url };
  const clients = createAwsClients(config);
  let maxSeen = 0;
  clients.sqs.middlewareStack.add(
    (next, context) => async (a) => {
      const result = await next(a);
      if (context.commandName === 'ReceiveMessageCommand') {
        for (const m of (result.output as ReceiveMessageCommandOutput).Messages ?? []) maxSeen = Math.max(maxSeen, Number(m.Attributes?.ApproximateReceiveCount ?? 1));
      }
      return result;
    },
    { step: 'initialize', name: 'receiveCounts' },
  );
  const breakerOpenSeconds = { s3: 0, sqs: 0 };
  const logger = pino({ level: 'info' }, {
    write(line: string) {
      const entry = JSON.parse(line) as { openForMs?: number; service?: 's3' | 'sqs' };
      if (entry.openForMs !== undefined && entry.service) breakerOpenSeconds[entry.service] += entry.openForMs / 1000;
    },
  });
  const registry = new TaskRegistry()
    .register('ingestion', 'csv', new RecordingTask('ingest-record'))
    .register('validation', 'csv', new RecordingTask('validate-record'))
    .register('analysis', 'csv', new RecordingTask('analyse-record'));
  const worker = await startWorker({ config, clients, logger, registry, waitTimeSeconds: 1 });
  try {
    const jobIds = Array.from({ length: jobCount }, (_, i) => `${name}-${i}`);
    for (const jobId of jobIds) await putObject(stack.clients.s3, stack.emulator.bucket, `uploads/${jobId}/sales.csv`, csv);
    const started = performance.now();
    for (const jobId of jobIds) {
      await sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ jobId, input: { key: `uploads/${jobId}/sales.csv` } }));
    }
    if (outage) proxy.fail(service, outageSeconds);
    const pending = new Set(jobIds);
    let succeeded = 0;
    // A job not final ten minutes after the outage ended is lost: count it as not succeeded and stop.
    const deadline = started + (outage ? outageSeconds + 600 : 600) * 1000;
    while (pending.size > 0 && performance.now() < deadline) {
      for (const jobId of [...pending]) {
        const status = await jobStatus(stack.store, jobId);
        if (status?.state === 'succeeded' || status?.state === 'failed') {
          pending.delete(jobId);
          if (status.state === 'succeeded') succeeded += 1;
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const wallSeconds = (performance.now() - started) / 1000;
    let deadLettered = 0;
    for (const stage of stageNames) {
      const dlq = await queueDepth(stack.clients.sqs, stack.emulator.queues[stage].dlqUrl);
      deadLettered += dlq.visible + dlq.inFlight;
    }
    return { wallSeconds, succeeded, deadLettered, maxReceiveCount: maxSeen, answered503: proxy.failed.s3 + proxy.failed.sqs, breakerOpenSeconds };
  } finally {
    await worker.stop();
    await proxy.close();
    await stack.stop();
  }
}

console.log(`${jobCount} small CSV jobs, three stages each, maxReceiveCount ${maxReceiveCount}; outage: ${service} answers 503 for ${outageSeconds} s from the moment the batch is sent`);
const [baseline, withOutage] = await Promise.all([runBatch('baseline', false), runBatch('outage', true)]);
const row = (label: string, r: Result) =>
  `| ${label} | ${r.wallSeconds.toFixed(1)} | ${r.succeeded}/${jobCount} | ${r.deadLettered} | ${r.maxReceiveCount} | ${r.answered503} | ${r.breakerOpenSeconds.s3.toFixed(1)} / ${r.breakerOpenSeconds.sqs.toFixed(1)} |`;
console.log('| batch | wall s | succeeded | in a DLQ | highest receive count | 503s answered | breaker open s (S3 / SQS) |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
console.log(row('no outage', baseline));
console.log(row(`${service} outage ${outageSeconds} s`, withOutage));
const added = withOutage.wallSeconds - baseline.wallSeconds;
console.log(
  `\nthe outage added ${added.toFixed(1)} s to the batch; the batch finished ${(withOutage.wallSeconds - outageSeconds).toFixed(1)} s after the outage ended ` +
    `(with no outage the whole batch takes ${baseline.wallSeconds.toFixed(1)} s)`,
);
