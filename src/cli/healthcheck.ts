import { request } from 'node:http';

/**
 * `stageline healthcheck`: the container health check (slim images have no curl). Exit code 0 when
 * the worker in this container answers /healthz with 200 within the timeout, else 1.
 */
export function healthcheck(port: number, timeoutMs = 3000): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? 0 : 1);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(1));
    req.end();
  });
}
