import { createServer, type Server } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import type { LoopHealth } from '../queue/consumer.js';

export interface HealthSource {
  /** Each polling loop's state. */
  loops(): LoopHealth[];
  /** False while starting up or shutting down. */
  ready(): boolean;
}

export interface HttpServerOptions {
  port: number;
  health: HealthSource;
  registry: Registry;
  /**
   * A receive request that has not returned this long after it started is hung: its long poll plus
   * the request timeout have both passed. Busy loops (every slot taken by a job) are never stuck.
   */
  maxReceiveMs: number;
  /** A live loop with free slots and no receive recovers within a turn of the event loop; this long means it died. */
  maxIdleMs?: number;
}

/** Why a loop is unhealthy, or undefined when it is fine. */
export function loopProblem(loop: LoopHealth, now: number, maxReceiveMs: number, maxIdleMs: number): string | undefined {
  const age = now - loop.since;
  if (loop.state === 'receiving' && age > maxReceiveMs) return `a receive has not returned for ${Math.round(age / 1000)} s`;
  if (loop.state === 'idle' && age > maxIdleMs) return `free slots and no receive for ${Math.round(age / 1000)} s: the loop died`;
  return undefined;
}

/**
 * `/healthz`: 200 while the event loop answers and every poll loop is receiving, waiting for a free slot
 * (however long its jobs run) or held back on purpose (a circuit breaker, a back-off); 503 only for a loop
 * that died or a receive hung long past its deadline. ECS restarts the task on 503, so a false alarm kills
 * healthy jobs. Event-loop delay is reported, not judged: a past stall is not a present fault.
 * `/readyz`: ready to take work. `/metrics`: Prometheus text.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<Server> {
  const maxIdleMs = options.maxIdleMs ?? 10_000;
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  // A rolling window, so the reported figures describe the last half minute.
  const reset = setInterval(() => delay.reset(), 30_000).unref();

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: unknown, type = 'application/json') => {
      res.writeHead(code, { 'content-type': type });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (path === '/healthz') {
      const now = Date.now();
      const loops = options.health.loops().map((l) => {
        const problem = loopProblem(l, now, options.maxReceiveMs, maxIdleMs);
        return { ...l, forMs: now - l.since, ...(problem ? { problem } : {}) };
      });
      const stuck = loops.filter((l) => l.problem).map((l) => l.name);
      const ok = stuck.length === 0;
      return send(ok ? 200 : 503, {
        ok,
        stuck,
        eventLoopDelayMaxMs: Math.round(delay.max / 1e6),
        eventLoopDelayP99Ms: Math.round(delay.percentile(99) / 1e6),
        loops,
      });
    }
    if (path === '/readyz') {
      const ready = options.health.ready();
      return send(ready ? 200 : 503, { ready });
    }
    if (path === '/metrics') {
      options.registry
        .metrics()
        .then((text) => send(200, text, options.registry.contentType))
        .catch((err: unknown) => send(500, { error: String(err) }));
      return;
    }
    send(404, { error: 'not found' });
  });
  server.on('close', () => {
    clearInterval(reset);
    delay.disable();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, () => resolve());
  });
  return server;
}
