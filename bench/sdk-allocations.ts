/**
 * `npx tsx bench/sdk-allocations.ts [Put|Get|Send]` (needs `npm run build` for the emulator): what one small
 * AWS call allocates on the event loop that makes it, through the clients stageline makes
 * (createAwsClients), against fauxqs in its own process. V8's sampling heap profiler, objects collected
 * by the young and old generation's collections included, over 16 × 20 calls after a warm-up; prints the
 * KB per call by package and the functions that allocate most. A tiny job's GC cost follows from this
 * times its 31 calls (BENCHMARKS.md, Tiny jobs).
 */
import { Session } from 'node:inspector/promises';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { createAwsClients } from '../src/aws/clients.js';
import { startEmulatorProcess } from './emulator-process.js';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const emulator = await startEmulatorProcess(new URL('../dist/', import.meta.url));
Object.assign(process.env, emulator.env);
const clients = createAwsClients({ AWS_REGION: emulator.env.AWS_REGION ?? 'us-east-1', AWS_ENDPOINT_URL: emulator.endpoint });
const body = JSON.stringify({ jobId: 'bare', state: 'running', note: 'x'.repeat(300) });
const ops: Record<string, (i: number) => Promise<unknown>> = {
  Put: (i) => clients.s3.send(new PutObjectCommand({ Bucket: emulator.bucket, Key: `bare/${i % 20}.json`, Body: body, ContentType: 'application/json' })),
  Get: async (i) => void (await (await clients.s3.send(new GetObjectCommand({ Bucket: emulator.bucket, Key: `bare/${i % 20}.json` }))).Body!.transformToString()),
  Send: () => clients.sqs.send(new SendMessageCommand({ QueueUrl: emulator.eventsQueueUrl, MessageBody: body })),
};
const op = process.argv[2] ?? 'Put';
const call = ops[op];
if (!call) throw new Error(`unknown call ${op}: Put, Get or Send`);
const inFlight = 16;
const rounds = 20;
const run = (n: number) => Promise.all(Array.from({ length: inFlight }, async (_, k) => { for (let i = 0; i < n; i++) await call(inFlight * i + k); }));

try {
  for (let i = 0; i < 20; i++) await ops.Put!(i);
  await run(20);
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  // Without the two include flags the profile keeps only what is still alive at its end.
  await session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as { samplingInterval: number });
  await run(rounds);
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let total = 0;
  const walk = (n: ProfileNode) => {
    const url = n.callFrame.url.replace(/.*node_modules\//, '');
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber}`;
    const pkg = url.startsWith('@') ? url.split('/').slice(0, 2).join('/') : url.split('/')[0] || '(native)';
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + n.selfSize);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + n.selfSize);
    total += n.selfSize;
    n.children.forEach(walk);
  };
  walk(profile.head);
  const calls = inFlight * rounds;
  const kb = (bytes: number) => `${(bytes / calls / 1024).toFixed(1)} KB`;
  console.log(`${op}: ${kb(total)} allocated per call (sampled, ${calls} calls, node ${process.version})`);
  for (const [k, v] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`  ${kb(v)}  ${k}`);
  console.log('functions:');
  for (const [k, v] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${kb(v)}  ${k}`);
} finally {
  emulator.stop();
}
process.exit(0);
