import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { resolveFfmpegBinaries } from '../../src/media/ffmpeg-binaries.js';
import { eventually, finalStatus, putObject, sendRaw, startStack, type TestStack } from '../helpers/pipeline.js';

/**
 * The Dockerfile's runtime stage, replayed: package.json, the lock file, freshly compiled dist/ and bin/
 * in an empty directory, `npm ci --omit=dev --ignore-scripts`, then the CLI as its own process. A module
 * that dist/ imports but package.json lists only among the devDependencies fails here, as it does in
 * the image.
 */
const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
const ffmpeg = resolveFfmpegBinaries(process.env);

let app: string;
let stack: TestStack;
let port: number;

/** A port nothing listens on now (the worker needs a fixed one: the health check must find it). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  assert.ok(address && typeof address === 'object');
  return address.port;
}

/**
 * The container's environment: the emulator's settings and nothing of this test process (no tsx hooks,
 * no NODE_OPTIONS). The image sets FFMPEG_PATH and FFPROBE_PATH to Debian's binaries (--ignore-scripts
 * leaves the bundled ffprobe without its execute bit); the ones this checkout resolves stand in for them.
 */
const appEnv = (): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: app,
  FFMPEG_PATH: ffmpeg.ffmpeg,
  FFPROBE_PATH: ffmpeg.ffprobe,
  ...stack.env,
  HTTP_PORT: String(port),
  LOG_LEVEL: 'info',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
});

before(async () => {
  app = await mkdtemp(join(tmpdir(), 'stageline-production-'));
  // Node would find modules in a node_modules above the app directory, which the image does not have.
  for (let dir = dirname(app); dir !== dirname(dir); dir = dirname(dir)) {
    assert.ok(!existsSync(join(dir, 'node_modules')), `${join(dir, 'node_modules')} exists: the replay would see modules the image does not have`);
  }
  await Promise.all([
    cp(join(repo, 'package.json'), join(app, 'package.json')),
    cp(join(repo, 'package-lock.json'), join(app, 'package-lock.json')),
    cp(join(repo, 'bin'), join(app, 'bin'), { recursive: true }),
    // The dashboard's page, as the image copies it.
    cp(join(repo, 'web'), join(app, 'web'), { recursive: true }),
  ]);
  // Compiling and installing are independent: side by side they take as long as the install alone.
  await Promise.all([
    run(process.execPath, [tsc, '-p', join(repo, 'tsconfig.build.json'), '--outDir', join(app, 'dist')]),
    run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, env: { ...process.env, NODE_ENV: '' } }),
  ]);
  assert.ok(!existsSync(join(app, 'node_modules', 'tsx')) && !existsSync(join(app, 'node_modules', 'fast-check')), 'no dev dependencies installed');
  [stack, port] = await Promise.all([startStack(), freePort()]);
}, { timeout: 240_000 });

after(async () => {
  await stack?.stop();
  if (app) await rm(app, { recursive: true, force: true });
});

test('production install: `stageline worker` starts, /healthz answers 200, a CSV job succeeds, `stageline healthcheck` exits 0', { timeout: 120_000 }, async () => {
  const worker = spawn(process.execPath, ['bin/stageline.js', 'worker'], { cwd: app, env: appEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  for (const stream of [worker.stdout, worker.stderr]) stream.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = once(worker, 'exit');
  const context = () => `worker output:\n${output.join('')}`;
  // Whatever the test waits for, a worker that dies meanwhile ends the wait with its output.
  const died = exited.then(([code, signal]) => Promise.reject(new Error(`the worker exited (code ${code}, signal ${signal})\n${context()}`)));
  died.catch(() => undefined);
  const unlessDied = <T>(wait: Promise<T>) => Promise.race([wait, died]);
  try {
    await unlessDied(
      eventually(async () => ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200 ? true : undefined), '/healthz to answer 200', 30_000),
    );

    const jobId = 'production-install-1';
    await putObject(stack.clients.s3, stack.emulator.bucket, `uploads/${jobId}/orders.csv`, 'id,amount,placed\n1,9.50,2024-01-02\n2,12.00,2024-01-03\n');
    await sendRaw(stack.clients.sqs, stack.emulator.queues.ingestion.url, JSON.stringify({ jobId, input: { key: `uploads/${jobId}/orders.csv` }, kind: 'csv' }));
    const status = await unlessDied(finalStatus(stack.store, jobId, 60_000));
    assert.equal(status.state, 'succeeded', `${JSON.stringify(status)}\n${context()}`);

    const probe = await run(process.execPath, ['bin/stageline.js', 'healthcheck'], { cwd: app, env: appEnv() }).then(
      () => 0,
      (err: { code?: number; stderr?: string }) => assert.fail(`healthcheck exited ${err.code}: ${err.stderr}`),
    );
    assert.equal(probe, 0);
  } finally {
    worker.kill('SIGTERM');
    await exited;
  }
});

test('production install: `stageline dashboard` serves its page, its libraries from the installed packages, and the job list', { timeout: 60_000 }, async () => {
  const dashboardPort = await freePort();
  const dashboard = spawn(process.execPath, ['bin/stageline.js', 'dashboard'], { cwd: app, env: { ...appEnv(), DASHBOARD_PORT: String(dashboardPort) }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  for (const stream of [dashboard.stdout, dashboard.stderr]) stream.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = once(dashboard, 'exit');
  try {
    const base = `http://127.0.0.1:${dashboardPort}`;
    await eventually(async () => ((await fetch(`${base}/`)).status === 200 ? true : undefined), `the dashboard to answer\n${output.join('')}`, 30_000);
    for (const path of ['/assets/app.js', '/vendor/peaks.js', '/vendor/konva.js', '/vendor/waveform-data.js', '/vendor/hls.mjs']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200, `${path}\n${output.join('')}`);
    }
    const jobs = (await (await fetch(`${base}/api/jobs`)).json()) as { jobs: { jobId: string; state: string }[] };
    assert.ok(jobs.jobs.some((j) => j.jobId === 'production-install-1' && j.state === 'succeeded'), JSON.stringify(jobs));
    assert.match(output.join(''), new RegExp(`stageline dashboard: http://127\\.0\\.0\\.1:${dashboardPort}/`));
  } finally {
    dashboard.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0, 'the dashboard exits 0 on SIGTERM');
  }
});
