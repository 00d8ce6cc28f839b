/**
 * The embedded emulator (src/cli/emulator.ts, from the compiled build) in a process of its own, as
 * S3 and SQS are to a worker in production: the worker under measurement gets its own event loop and
 * core, and the emulator's CPU is counted apart (from /proc).
 */
import { spawn } from 'node:child_process';
import { statCpuSeconds } from './proc-stat.js';
import { createInterface } from 'node:readline';
import type { Emulator } from '../src/cli/emulator.js';

export type EmulatorInfo = Pick<Emulator, 'endpoint' | 'bucket' | 'queues' | 'eventsQueueUrl' | 'env'>;

export interface EmulatorProcess extends EmulatorInfo {
  /** CPU seconds the emulator process has used so far. */
  cpuSeconds(): number;
  stop(): void;
}

export async function startEmulatorProcess(dist: URL): Promise<EmulatorProcess> {
  const script = `const m = await import(${JSON.stringify(new URL('cli/emulator.js', dist).href)});
const e = await m.startEmulator();
console.log(JSON.stringify({ endpoint: e.endpoint, bucket: e.bucket, queues: e.queues, eventsQueueUrl: e.eventsQueueUrl, env: e.env }));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the emulator process exited (code ${code}) before it started`)));
    createInterface({ input: child.stdout }).once('line', resolve);
  });
  const info = JSON.parse(line) as EmulatorInfo;
  const cpuSeconds = () => statCpuSeconds(`/proc/${child.pid}/stat`);
  return { ...info, cpuSeconds, stop: () => void child.kill() };
}
