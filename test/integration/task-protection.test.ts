import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { z } from 'zod';
import { TaskProtection, type ProtectionLogger } from '../../src/daemon/task-protection.js';

const PutBody = z.object({ ProtectionEnabled: z.boolean(), ExpiresInMinutes: z.number().optional() });
type PutBody = z.infer<typeof PutBody>;
type Reply = 'ok' | 'failure' | 'error';

/** The ECS agent's task-protection endpoint, as far as the worker uses it. */
class FakeAgent {
  readonly requests: { path: string; body: PutBody }[] = [];
  /** Replies for the next requests, in order; `ok` once they run out. */
  replies: Reply[] = [];
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = PutBody.parse(JSON.parse(Buffer.concat(chunks).toString()));
      this.requests.push({ path: `${req.method} ${req.url}`, body });
      const reply = this.replies.shift() ?? 'ok';
      const taskArn = 'arn:aws:ecs:us-east-1:123456789012:task/cluster/abc';
      if (reply === 'ok') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({ protection: { ProtectionEnabled: body.ProtectionEnabled, ExpirationDate: body.ProtectionEnabled ? '2030-01-01T00:00:00Z' : null, TaskArn: taskArn } }),
        );
      } else if (reply === 'failure') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ failure: { Arn: taskArn, Reason: 'TASK_NOT_VALID', Detail: 'task is stopping' } }));
      } else {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { Arn: taskArn, Code: 'ServerException', Message: 'boom' } }));
      }
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/task-1`;
  }

  states(): boolean[] {
    return this.requests.map((r) => r.body.ProtectionEnabled);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

class RecordingLogger implements ProtectionLogger {
  readonly lines: { level: 'info' | 'warn'; obj: object; msg: string }[] = [];
  info(obj: object, msg: string): void {
    this.lines.push({ level: 'info', obj, msg });
  }
  warn(obj: object, msg: string): void {
    this.lines.push({ level: 'warn', obj, msg });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('ECS task scale-in protection', () => {
  const agent = new FakeAgent();
  let agentUri = '';
  let logger: RecordingLogger;
  const open: TaskProtection[] = [];
  const protection = (overrides: Partial<ConstructorParameters<typeof TaskProtection>[0]> = {}) => {
    const p = new TaskProtection({ agentUri, logger, expiresInMinutes: 30, releaseDelayMs: 50, retryDelayMs: 30, ...overrides });
    open.push(p);
    return p;
  };

  before(async () => {
    agentUri = await agent.start();
  });
  beforeEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.close()));
    agent.requests.length = 0;
    agent.replies = [];
    logger = new RecordingLogger();
  });
  after(async () => {
    await Promise.all(open.map((p) => p.close()));
    await agent.close();
  });

  it('protects once when work starts, however fast the count changes, and releases when idle', async () => {
    const p = protection();
    for (const n of [1, 2, 3, 2, 1, 4]) p.setInFlight(n);
    await until(() => agent.requests.length === 1, 'the protect call');
    assert.deepEqual(agent.requests[0], { path: 'PUT /api/task-1/task-protection/v1/state', body: { ProtectionEnabled: true, ExpiresInMinutes: 30 } });

    p.setInFlight(0);
    await until(() => agent.requests.length === 2, 'the release call');
    assert.deepEqual(agent.requests[1]?.body, { ProtectionEnabled: false });
    await sleep(100);
    assert.equal(agent.requests.length, 2, 'nothing more once released');
  });

  it('does not release during a short idle gap', async () => {
    const p = protection({ releaseDelayMs: 200 });
    p.setInFlight(1);
    await until(() => agent.requests.length === 1, 'the protect call');
    p.setInFlight(0);
    await sleep(50);
    p.setInFlight(1);
    await sleep(300);
    assert.deepEqual(agent.states(), [true]);
  });

  it('renews protection before it expires while jobs keep running', async () => {
    const p = protection({ renewEveryMs: 40 });
    p.setInFlight(1);
    await until(() => agent.requests.length >= 3, 'two renewals');
    assert.ok(agent.requests.every((r) => r.body.ProtectionEnabled && r.body.ExpiresInMinutes === 30));
    p.setInFlight(0);
    await until(() => agent.states().at(-1) === false, 'the release');
    const count = agent.requests.length;
    await sleep(120);
    assert.equal(agent.requests.length, count, 'no renewals once released');
  });

  it('logs a refusal or an agent error, never throws, and retries until the agent agrees', async () => {
    agent.replies = ['failure', 'error'];
    const p = protection();
    assert.doesNotThrow(() => p.setInFlight(1));
    await until(() => logger.lines.some((l) => l.level === 'info' && /protection set/.test(l.msg)), 'protection after two retries');
    assert.deepEqual(agent.states(), [true, true, true]);
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    assert.equal(warnings.length, 2);
    assert.deepEqual(warnings.map((w) => w.obj), [
      { protectionEnabled: true, reason: 'TASK_NOT_VALID', detail: 'task is stopping' },
      { protectionEnabled: true, reason: 'ServerException', detail: 'boom' },
    ]);
  });

  it('logs an unreachable agent without throwing', async () => {
    const p = protection({ agentUri: 'http://127.0.0.1:1/api/task-1', requestTimeoutMs: 500 });
    p.setInFlight(1);
    await until(() => logger.lines.some((l) => l.level === 'warn' && /unreachable/.test(l.msg)), 'a warning');
    await p.close();
  });

  it('releases on close and ignores later changes', async () => {
    const p = protection({ releaseDelayMs: 60_000 });
    p.setInFlight(2);
    await until(() => agent.requests.length === 1, 'the protect call');
    await p.close();
    assert.deepEqual(agent.states(), [true, false]);
    p.setInFlight(1);
    await sleep(50);
    assert.equal(agent.requests.length, 2);
  });

  it('does nothing outside ECS (no ECS_AGENT_URI)', async () => {
    const p = protection({ agentUri: undefined });
    p.setInFlight(1);
    p.setInFlight(0);
    await p.close();
    await sleep(80);
    assert.equal(agent.requests.length, 0);
    assert.equal(logger.lines.length, 0);
  });

  it('rejects an expiry ECS would not accept', () => {
    assert.throws(() => protection({ expiresInMinutes: 0 }));
    assert.throws(() => protection({ expiresInMinutes: 2881 }));
  });
});
