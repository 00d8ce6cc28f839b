import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { defaultHttpPort, healthcheck, httpPortFrom } from '../../src/cli/healthcheck.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');

function execute(file: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { ...options, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** An HTTP server on a free port that answers /healthz with `status`, or never answers when `status` is 'hang'. */
async function serve(status: number | 'hang'): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (status === 'hang') return;
    res.writeHead(req.url === '/healthz' ? status : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: status === 200, stuck: status === 200 ? [] : ['analysis'] }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return { server, port: address.port };
}

async function closedPort(): Promise<number> {
  const { server, port } = await serve(200);
  server.close();
  await once(server, 'close');
  return port;
}

describe('HTTP_PORT as the health check reads it', () => {
  it('agrees with the worker: unset or empty is 8080, a number is that port', () => {
    assert.equal(defaultHttpPort, 8080);
    assert.deepEqual(httpPortFrom(undefined), { port: 8080 });
    assert.deepEqual(httpPortFrom(''), { port: 8080 });
    assert.deepEqual(httpPortFrom('9090'), { port: 9090 });
    assert.deepEqual(httpPortFrom('65535'), { port: 65535 });
  });
  it('names the variable and the value it cannot use', () => {
    for (const bad of ['abc', '80.5', '-1', '65536', '8080/tcp']) {
      const result = httpPortFrom(bad);
      assert.ok('error' in result, bad);
      assert.match(result.error, /^HTTP_PORT: not a port number/);
      assert.ok(result.error.includes(JSON.stringify(bad)), result.error);
    }
    const zero = httpPortFrom('0');
    assert.ok('error' in zero && /random port/.test(zero.error));
  });
});

describe('healthcheck(port)', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });
  it('is 0 for 200 from /healthz, 1 for 503, for nothing listening and for no answer in time', async () => {
    const healthy = await serve(200);
    const stuck = await serve(503);
    const silent = await serve('hang');
    servers.push(healthy.server, stuck.server, silent.server);
    assert.equal(await healthcheck(healthy.port), 0);
    assert.equal(await healthcheck(stuck.port), 1);
    assert.equal(await healthcheck(await closedPort()), 1);
    assert.equal(await healthcheck(silent.port, 300), 1);
  });
});

/**
 * `stageline healthcheck` as the image runs it, in a directory that holds bin/, package.json and the
 * health check's compiled module, nothing else: no other compiled module, no node_modules. A probe that
 * touched anything of the application would fail to load here.
 */
describe('bin/stageline.js healthcheck loads nothing of the application', () => {
  let app: string;
  let program: string[];
  const servers: Server[] = [];

  before(async () => {
    app = await mkdtemp(join(tmpdir(), 'stageline-healthcheck-'));
    for (let dir = dirname(app); dir !== dirname(dir); dir = dirname(dir)) {
      assert.ok(!existsSync(join(dir, 'node_modules')), `${join(dir, 'node_modules')} exists: the probe could load modules from it`);
    }
    // The module compiled on its own: tsc lists every file of its import graph.
    const out = join(app, 'compiled');
    const listed = await execute(process.execPath, [tsc, '--ignoreConfig', join(repo, 'src/cli/healthcheck.ts'), '--outDir', out, '--module', 'nodenext', '--target', 'es2022', '--types', 'node', '--strict', '--skipLibCheck', '--listFiles'], { cwd: repo });
    assert.equal(listed.code, 0, listed.stdout + listed.stderr);
    program = listed.stdout.split('\n').filter((line) => line && !line.includes('/node_modules/')).map((line) => relative(repo, line));
    await mkdir(join(app, 'dist', 'cli'), { recursive: true });
    await mkdir(join(app, 'dist', 'contract'), { recursive: true });
    await Promise.all([
      cp(join(out, 'cli', 'healthcheck.js'), join(app, 'dist', 'cli', 'healthcheck.js')),
      cp(join(out, 'contract', 'defaults.js'), join(app, 'dist', 'contract', 'defaults.js')),
      cp(join(repo, 'bin'), join(app, 'bin'), { recursive: true }),
      cp(join(repo, 'package.json'), join(app, 'package.json')),
    ]);
  });
  after(async () => {
    for (const s of servers) s.close();
    await rm(app, { recursive: true, force: true });
  });

  const probe = (httpPort: string | undefined) =>
    execute(process.execPath, ['bin/stageline.js', 'healthcheck'], { cwd: app, env: { PATH: process.env.PATH ?? '', ...(httpPort === undefined ? {} : { HTTP_PORT: httpPort }) } });

  it('imports no other module of the project but the import-free one of its default port', () => {
    assert.deepEqual(program.sort(), ['src/cli/healthcheck.ts', 'src/contract/defaults.ts']);
    assert.doesNotMatch(readFileSync(join(repo, 'src/contract/defaults.ts'), 'utf8'), /^\s*(import|export .* from)/m, 'the defaults module imports nothing');
  });

  it('exits 0 against /healthz 200, 1 against 503 and against nothing listening, with the reason on stderr', async () => {
    const healthy = await serve(200);
    const stuck = await serve(503);
    servers.push(healthy.server, stuck.server);
    const ok = await probe(String(healthy.port));
    assert.deepEqual([ok.code, ok.stderr], [0, '']);
    const unhealthy = await probe(String(stuck.port));
    assert.equal(unhealthy.code, 1);
    assert.match(unhealthy.stderr, /^stageline healthcheck: unhealthy: \/healthz answered 503: .*"stuck":\["analysis"\]/);
    const nobody = await probe(String(await closedPort()));
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /ECONNREFUSED/);
  });

  it('exits 2 with one line naming HTTP_PORT when it is not a port', async () => {
    const bad = await probe('eighty');
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'stageline healthcheck: configuration error: HTTP_PORT: not a port number (1-65535) (got "eighty")\n');
  });

  it('asks port 8080 when HTTP_PORT is unset', async (t) => {
    const server = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end());
    servers.push(server);
    const listening = await new Promise<boolean>((resolve) => {
      server.once('listening', () => resolve(true)).once('error', () => resolve(false));
      server.listen(defaultHttpPort, '127.0.0.1');
    });
    if (!listening) return t.skip(`port ${defaultHttpPort} is taken on this machine`);
    assert.equal((await probe(undefined)).code, 0);
  });
});
