import { request } from 'node:http';
import type { Logger } from 'pino';
import { stageNames, type StageName } from '../../src/contract/stages.js';
import { startDashboard, type Dashboard, type DashboardOptions } from '../../src/dashboard/server.js';
import { putObject, sendRaw, silentLogger, type TestStack } from './pipeline.js';

export const dashboardToken = 'test-token-0123456789abcdef';

/** A dashboard over the stack's bucket and queues on a free loopback port, its event stream quick. */
export function startTestDashboard(stack: TestStack, options: Partial<DashboardOptions> = {}): Promise<Dashboard> {
  const queueUrls = Object.fromEntries(stageNames.map((s) => [s, stack.emulator.queues[s].url])) as Record<StageName, string>;
  return startDashboard({
    host: '127.0.0.1',
    port: 0,
    token: dashboardToken,
    s3: stack.clients.s3,
    sqs: stack.clients.sqs,
    bucket: stack.emulator.bucket,
    queueUrls,
    logger: silentLogger as Logger,
    events: { jobsEveryMs: 300, queuesEveryMs: 500, heartbeatMs: 1000 },
    ...options,
  });
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  json<T = unknown>(): T;
}

/**
 * One raw HTTP request: the path is sent exactly as given (no URL normalisation, so `..` reaches the
 * server as a client that does not normalise would send it).
 */
export function http(base: string, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: <T>() => JSON.parse(text) as T });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Uploads `body` and sends a job request for it. */
export async function submitJob(stack: TestStack, job: { jobId: string; name: string; body: Buffer | string; kind?: string; extra?: Record<string, unknown> }): Promise<string> {
  const key = `uploads/${job.jobId}/${job.name}`;
  await putObject(stack.clients.s3, stack.emulator.bucket, key, job.body);
  await sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ jobId: job.jobId, input: { key }, ...(job.kind ? { kind: job.kind } : {}), ...job.extra }));
  return key;
}

/** Server-Sent Events as they arrive, for a test to wait on. */
export function listen(base: string): { events: { event: string; data: string }[]; comments: string[]; raw: () => string; close: () => void; opened: Promise<number> } {
  const url = new URL('/api/events', base);
  const events: { event: string; data: string }[] = [];
  const comments: string[] = [];
  let buffer = '';
  let all = '';
  let close = () => {};
  const opened = new Promise<number>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, headers: { Accept: 'text/event-stream' } }, (res) => {
      resolve(res.statusCode ?? 0);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        all += chunk;
        buffer += chunk;
        for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const lines = block.split('\n');
          for (const l of lines) if (l.startsWith(':')) comments.push(l);
          const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
          const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (event) events.push({ event, data });
        }
      });
      res.on('error', () => undefined);
    });
    req.on('error', reject);
    req.end();
    close = () => req.destroy();
  });
  return { events, comments, raw: () => all, close: () => close(), opened };
}
