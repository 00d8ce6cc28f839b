/**
 * No-op task throughput through receive → handle → delete, against fauxqs running as its own process.
 * Side by side in one run, at equal concurrency (messages in handlers at most), all on one SQSClient
 * (same handler, keep-alive and socket limit):
 *   - stageline's QueueConsumer (one loop, concurrency C),
 *   - sqs-consumer with handleMessageBatch returning the batch (C/10 consumers of batch 10),
 *   - a bare SDK loop (C/10 loops of receive 10 → DeleteMessageBatch).
 * The machine is shared and noisy: compare the ratios, which pair runs of the same round.
 * Usage: npm run bench [-- --messages 3000 --rounds 3 --concurrency 10,50 --only stageline]
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { Consumer } from 'sqs-consumer';
import { z } from 'zod';
import { QueueConsumer } from '../src/queue/consumer.js';
import { done } from '../src/queue/outcome.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '10,50' },
    // One contender alone (e.g. under `node --cpu-prof`): the table then has only its column.
    only: { type: 'string' },
  },
});
const N = Number(values.messages);
const rounds = Number(values.rounds);
const levels = (values.concurrency ?? '10,50').split(',').map(Number);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function startFauxqsProcess(port: number): Promise<() => void> {
  const proc = spawn(process.execPath, ['node_modules/fauxqs/dist/server.js'], {
    env: { ...process.env, FAUXQS_PORT: String(port), FAUXQS_LOGGER: 'false' },
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return () => proc.kill();
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill();
  throw new Error('fauxqs did not start');
}

const port = await freePort();
const stopFauxqs = await startFauxqsProcess(port);
const sqs = new SQSClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });

/**
 * The measured run: SQS calls by operation (every contender should need the same), and the messages
 * deleted so far. A run ends when the last delete returns, seen here on the shared client, rather than
 * by polling the queue's counts: a poll every few ms would charge each contender CPU in proportion to
 * its duration, the slowest most.
 */
let run: { calls: Record<string, number>; deleted: number; allDeleted: () => void } | undefined;
sqs.middlewareStack.add(
  (next, context) => async (args) => {
    const current = run;
    if (current) current.calls[context.commandName ?? '?'] = (current.calls[context.commandName ?? '?'] ?? 0) + 1;
    const result = await next(args);
    if (current && 'Successful' in result.output && context.commandName === 'DeleteMessageBatchCommand') {
      current.deleted += result.output.Successful?.length ?? 0;
      if (current.deleted >= N) current.allDeleted();
    }
    return result;
  },
  { step: 'initialize', name: 'benchRunMeter' },
);

// Garbage left by filling the queue would otherwise be collected on the next contender's time.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

let queueSeq = 0;
async function filledQueue(): Promise<string> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `bench-${queueSeq++}` }));
  if (!QueueUrl) throw new Error('no queue');
  const body = JSON.stringify({ n: 1 });
  const batches = [];
  for (let i = 0; i < N; i += 10) {
    const entries = Array.from({ length: Math.min(10, N - i) }, (_, j) => ({ Id: String(j), MessageBody: body }));
    batches.push(sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: entries })));
    if (batches.length >= 20) await Promise.all(batches.splice(0));
  }
  await Promise.all(batches);
  return QueueUrl;
}

/** After a run: every message was deleted exactly once, none is left or back. */
async function assertEmpty(queueUrl: string, name: string): Promise<void> {
  const a = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  const left = Number(a.Attributes?.ApproximateNumberOfMessages) + Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible);
  if (left !== 0) throw new Error(`${name} left ${left} messages on the queue`);
}

type Contender = (queueUrl: string, concurrency: number) => Promise<() => Promise<void>>;

const contenders: Record<string, Contender> = {
  stageline: async (queueUrl, concurrency) => {
    const consumer = new QueueConsumer({
      name: 'bench',
      sqs,
      queueUrl,
      schema: z.object({ n: z.number() }),
      handler: async () => done,
      concurrency,
      logger: pino({ level: 'silent' }),
      waitTimeSeconds: 1,
    });
    consumer.start();
    return () => consumer.stopReceiving();
  },
  'sqs-consumer': async (queueUrl, concurrency) => {
    const consumers = Array.from({ length: Math.max(1, concurrency / 10) }, () =>
      Consumer.create({ queueUrl, sqs, batchSize: 10, waitTimeSeconds: 1, handleMessageBatch: async (messages) => messages }),
    );
    for (const c of consumers) {
      c.on('error', () => {}); // aborting its long poll at stop is reported as an error: expected here
      c.start();
    }
    return async () => {
      for (const c of consumers) c.stop({ abort: true });
    };
  },
  'bare SDK loop': async (queueUrl, concurrency) => {
    let stopped = false;
    const loop = async () => {
      while (!stopped) {
        const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        const messages = res.Messages ?? [];
        for (const m of messages) JSON.parse(m.Body ?? '');
        if (messages.length > 0) {
          await sqs.send(
            new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
          );
        }
      }
    };
    const loops = Array.from({ length: Math.max(1, concurrency / 10) }, loop);
    return async () => {
      stopped = true;
      await Promise.all(loops);
    };
  },
};

const names = Object.keys(contenders).filter((n) => values.only === undefined || values.only.split(',').includes(n));
/** Per contender and concurrency, one figure per counted round, in round order (so rounds can be paired). */
const rates: Record<string, Record<number, number[]>> = {};
const cpus: Record<string, Record<number, number[]>> = {};
// Round 0 warms up the JIT of both processes and is not counted: the first contender would otherwise pay for it.
for (let round = 0; round <= rounds; round++) {
  for (const concurrency of levels) {
    // Rotate the order each round so no contender always goes first on a warm or cold machine.
    const order = names.map((_, i) => names[(i + round) % names.length]!);
    for (const name of order) {
      const queueUrl = await filledQueue();
      collectGarbage();
      let allDeleted!: () => void;
      const finished = new Promise<void>((resolve) => (allDeleted = resolve));
      const measured = (run = { calls: {}, deleted: 0, allDeleted });
      const started = performance.now();
      const cpuBefore = process.cpuUsage();
      const stop = await contenders[name]!(queueUrl, concurrency);
      await finished;
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      run = undefined;
      await stop();
      await assertEmpty(queueUrl, name);
      const cpuMicrosPerMessage = (cpu.user + cpu.system) / N;
      if (round > 0) {
        ((rates[name] ??= {})[concurrency] ??= []).push(N / seconds);
        ((cpus[name] ??= {})[concurrency] ??= []).push(cpuMicrosPerMessage);
      }
      const calls = Object.entries(measured.calls).map(([op, n]) => `${op.replace('Command', '')} ${n}`).join(', ');
      process.stderr.write(
        `${round === 0 ? 'warm-up' : `round ${round}`} c=${concurrency} ${name}: ${(N / seconds).toFixed(0)} msg/s, client CPU ${cpuMicrosPerMessage.toFixed(0)} µs/msg (${calls})\n`,
      );
    }
  }
}
stopFauxqs();

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
/** Ratios of runs made in the same round, a few seconds apart: the machine's noise hits both sides of each alike. */
const pairedRatio = (of: Record<string, Record<number, number[]>>, a: string, b: string, c: number) =>
  median((of[a]?.[c] ?? []).map((x, i) => x / (of[b]?.[c]?.[i] ?? NaN)));
const fmt = (x: number, digits = 0) => (Number.isFinite(x) && x !== 0 ? x.toFixed(digits) : '–');
console.log(`\n${N} messages per run, ${rounds} rounds (+1 warm-up), medians (fauxqs in its own process, node ${process.version})\n`);
console.log(`| concurrency | msg/s stageline / sqs-consumer / bare | stageline ÷ sqs-consumer | stageline ÷ bare | client CPU µs/msg stageline / sqs-consumer / bare | CPU/msg stageline ÷ bare |`);
console.log(`| --- | --- | --- | --- | --- | --- |`);
for (const c of levels) {
  const rate = ['stageline', 'sqs-consumer', 'bare SDK loop'].map((n) => fmt(median(rates[n]?.[c] ?? []))).join(' / ');
  const cpu = ['stageline', 'sqs-consumer', 'bare SDK loop'].map((n) => fmt(median(cpus[n]?.[c] ?? []))).join(' / ');
  console.log(
    `| ${c} | ${rate} | ${fmt(pairedRatio(rates, 'stageline', 'sqs-consumer', c), 2)}× | ${fmt(pairedRatio(rates, 'stageline', 'bare SDK loop', c), 2)}× | ${cpu} | ${fmt(pairedRatio(cpus, 'stageline', 'bare SDK loop', c), 2)}× |`,
  );
}
console.log(`\nRatios are medians of per-round ratios (each round runs every contender back to back, order rotated).`);
