import { createServer, type Server } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Registry } from 'prom-client';

export interface HealthSource {
  /** Each polling loop and whether it is alive (polled recently). */
  loops(): { name: string; running: boolean; lastPollAt: number }[];
  /** False while starting up or shutting down. */
  ready(): boolean;
}

export interface HttpServerOptions {
  port: number;
  health: HealthSource;
  registry: Registry;
  /** A loop that has not completed a receive for this long is stuck (long polls last 20 s). */
  maxPollAgeMs?: number;
  /** Longest event-loop stall in the last window above which the process is unhealthy. */
  maxEventLoopDelayMs?: number;
}

/**
 * `/healthz`: the loops are alive and the event loop is not stalled (ECS restarts the task otherwise).
 * `/readyz`: ready to take work. `/metrics`: Prometheus text.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<Server> {
  const maxPollAgeMs = options.maxPollAgeMs ?? 90_000;
  const maxDelayMs = options.maxEventLoopDelayMs ?? 2_000;
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  // A rolling window, so one old stall does not mark the process unhealthy forever.
  const reset = setInterval(() => delay.reset(), 30_000).unref();

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: unknown, type = 'application/json') => {
      res.writeHead(code, { 'content-type': type });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (path === '/healthz') {
      const now = Date.now();
      const loops = options.health.loops().map((l) => ({ ...l, pollAgeMs: now - l.lastPollAt }));
      const stuck = loops.filter((l) => l.running && l.pollAgeMs > maxPollAgeMs).map((l) => l.name);
      // One long stall matters (heartbeats and polls were late), so the window's maximum decides, not a percentile.
      const eventLoopDelayMaxMs = delay.max / 1e6;
      const ok = stuck.length === 0 && eventLoopDelayMaxMs < maxDelayMs;
      return send(ok ? 200 : 503, {
        ok,
        stuck,
        eventLoopDelayMaxMs: Math.round(eventLoopDelayMaxMs),
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
