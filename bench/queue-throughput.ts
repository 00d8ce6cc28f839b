/**
 * No-op task throughput through receive → handle → delete, against fauxqs running as its own process.
 * Side by side in one run, at equal concurrency (messages in flight at most):
 *   - stageline's QueueConsumer (one loop, concurrency C),
 *   - sqs-consumer with handleMessageBatch returning the batch (C/10 consumers of batch 10),
 *   - a bare SDK loop (C/10 loops of receive 10 → DeleteMessageBatch).
 * Usage: npm run bench [-- --messages 3000 --rounds 3 --concurrency 10,50]
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
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

async function untilEmpty(queueUrl: string): Promise<void> {
  for (;;) {
    const a = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    if (Number(a.Attributes?.ApproximateNumberOfMessages) + Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible) === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
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

const results: Record<string, Record<number, number[]>> = {};
const cpuResults: Record<string, Record<number, number[]>> = {};
// Round 0 warms up the JIT of both processes and is not counted: the first contender would otherwise pay for it.
for (let round = 0; round <= rounds; round++) {
  for (const concurrency of levels) {
    // Rotate the order each round so no contender always goes first on a warm or cold machine.
    const names = Object.keys(contenders);
    const order = names.map((_, i) => names[(i + round) % names.length]!);
    for (const name of order) {
      const queueUrl = await filledQueue();
      const started = performance.now();
      const cpuBefore = process.cpuUsage();
      const stop = await contenders[name]!(queueUrl, concurrency);
      await untilEmpty(queueUrl);
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      await stop();
      const cpuMicrosPerMessage = (cpu.user + cpu.system) / N;
      if (round > 0) {
        ((results[name] ??= {})[concurrency] ??= []).push(N / seconds);
        ((cpuResults[name] ??= {})[concurrency] ??= []).push(cpuMicrosPerMessage);
      }
      process.stderr.write(
        `${round === 0 ? 'warm-up' : `round ${round}`} c=${concurrency} ${name}: ${(N / seconds).toFixed(0)} msg/s, client CPU ${cpuMicrosPerMessage.toFixed(0)} µs/msg\n`,
      );
    }
  }
}
stopFauxqs();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
console.log(`\n${N} messages per run, ${rounds} rounds, median msg/s (fauxqs in its own process, node ${process.version})\n`);
console.log(`| concurrency | stageline | sqs-consumer | bare SDK loop | stageline ÷ sqs-consumer | stageline ÷ bare | client CPU µs/msg (stageline / sqs-consumer / bare) |`);
console.log(`| --- | --- | --- | --- | --- | --- | --- |`);
for (const c of levels) {
  const s = median(results.stageline?.[c] ?? []);
  const q = median(results['sqs-consumer']?.[c] ?? []);
  const b = median(results['bare SDK loop']?.[c] ?? []);
  const cpu = ['stageline', 'sqs-consumer', 'bare SDK loop'].map((n) => median(cpuResults[n]?.[c] ?? []).toFixed(0)).join(' / ');
  console.log(`| ${c} | ${s.toFixed(0)} | ${q.toFixed(0)} | ${b.toFixed(0)} | ${(s / q).toFixed(2)}× | ${(s / b).toFixed(2)}× | ${cpu} |`);
}
