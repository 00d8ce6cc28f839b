import { request } from 'node:http';
import { defaultHttpPort } from '../contract/defaults.js';

/**
 * `stageline healthcheck`: the container health check (slim images have no curl), run by ECS every 30 s.
 * bin/stageline.js hands it this module before anything else is loaded, so it imports node builtins only
 * (and the import-free module of HTTP_PORT's default) and reads HTTP_PORT itself: loading the application (AWS SDK, pino, zod) cost each probe 1.5 s of CPU
 * and 120 MB (BENCHMARKS.md). test/unit/healthcheck.test.ts holds it to that.
 */

export { defaultHttpPort };

/** Exit codes: 0 healthy, 1 unhealthy or unreachable, 2 HTTP_PORT unusable. */
export type HealthcheckExit = 0 | 1 | 2;

interface Probe {
  healthy: boolean;
  /** Why not, in one line, for `docker inspect` and the ECS console. */
  detail: string;
}

/**
 * HTTP_PORT as the worker's configuration reads it (unset or empty: 8080; a number as `Number` reads it),
 * or the reason it names no port the worker can be asked on: 0 lets the worker pick any free port.
 */
export function httpPortFrom(value: string | undefined): { port: number } | { error: string } {
  if (value === undefined || value === '') return { port: defaultHttpPort };
  const port = Number(value);
  if (Number.isInteger(port) && port >= 1 && port <= 65535) return { port };
  const why = port === 0 ? 'the worker listens on a random port with 0, which no health check can find' : 'not a port number (1-65535)';
  return { error: `HTTP_PORT: ${why} (got ${JSON.stringify(value)})` };
}

/** One GET of /healthz on this host; a fresh connection (no keep-alive) so the process can exit at once. */
function probe(port: number, timeoutMs: number): Promise<Probe> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 300) body += chunk;
      });
      res.on('end', () => resolve({ healthy: res.statusCode === 200, detail: `/healthz answered ${res.statusCode}: ${body.replace(/\s+/g, ' ').slice(0, 300)}` }));
      res.on('error', (err) => resolve({ healthy: false, detail: `/healthz answer cut off: ${err.message}` }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ healthy: false, detail: `no answer from 127.0.0.1:${port}/healthz: ${err.message}` }));
    req.end();
  });
}

/** 0 when the worker on `port` answers /healthz with 200 within the timeout, else 1. */
export async function healthcheck(port: number, timeoutMs = 3000): Promise<0 | 1> {
  return (await probe(port, timeoutMs)).healthy ? 0 : 1;
}

/** The command: HTTP_PORT from `env`, one line on stderr when the answer is anything but healthy. */
export async function runHealthcheck(env: Readonly<Record<string, string | undefined>>, timeoutMs = 3000): Promise<HealthcheckExit> {
  const setting = httpPortFrom(env.HTTP_PORT);
  if ('error' in setting) {
    process.stderr.write(`stageline healthcheck: configuration error: ${setting.error}\n`);
    return 2;
  }
  const result = await probe(setting.port, timeoutMs);
  if (result.healthy) return 0;
  process.stderr.write(`stageline healthcheck: unhealthy: ${result.detail}\n`);
  return 1;
}
