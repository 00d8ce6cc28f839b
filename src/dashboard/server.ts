import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { ApiError, JobActionResult, JobDetail, JobsPage, JobsQuery, QueuesResponse, RedriveResult } from '../contract/dashboard-api.js';
import { errorMessage, isInfrastructureError } from '../contract/errors.js';
import { JobId, JobRequestEnvelope } from '../contract/job.js';
import { StageName } from '../contract/stages.js';
import { deadLetters } from '../pipeline/dead-letter-redrive.js';
import { JobIndex } from '../pipeline/job-index.js';
import { RetryNotSentError, retryJob, type RetryDeps } from '../pipeline/job-retry.js';
import { JobStatusStore } from '../pipeline/job-status.js';
import { channel, Publisher } from '../queue/publisher.js';
import { downloadObject } from '../storage/object-download.js';
import { ObjectStore } from '../storage/object-store.js';
import { asset, type Asset } from './assets.js';
import { authorize } from './auth.js';
import { EventHub } from './events.js';
import { CursorError, JobList } from './job-list.js';
import { outputContentType, outputKey, outputLink, parseRange } from './outputs.js';
import { QueueStats } from './queue-stats.js';

export interface DashboardOptions {
  host: string;
  port: number;
  /** DASHBOARD_TOKEN: without it every action answers 403. */
  token?: string | undefined;
  s3: S3Client;
  sqs: SQSClient;
  bucket: string;
  queueUrls: Record<StageName, string>;
  logger: Logger;
  /** The event stream's polling; tests shorten it. */
  events?: { jobsEveryMs?: number; queuesEveryMs?: number; heartbeatMs?: number };
}

export interface Dashboard {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Clients of the event stream now. */
  eventListeners(): number;
  close(): Promise<void>;
}

/**
 * The page may run only its own scripts (no inline script, no eval), load media and data only from
 * here (MSE playback uses blob: URLs), and be framed by no one. Nothing it shows needs more.
 */
const pageCsp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
/** API answers and outputs are data: opened on their own in a tab, nothing in them runs. */
const dataCsp = "default-src 'none'; frame-ancestors 'none'; sandbox";

const loopbackHosts = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)$/i;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * `stageline dashboard` (contract section 8, docs/dashboard.md): the page and its JSON API over
 * node:http. Reads are open to whoever can reach the port (loopback by default); actions need the
 * bearer token. Bound to loopback, it also refuses requests whose Host is not a loopback name, so a
 * web page that rebinds its own DNS name to 127.0.0.1 cannot read it from a browser.
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const { logger } = options;
  const store = new ObjectStore(options.s3, options.bucket);
  const index = JobIndex.forStore(store, { logger });
  const statuses = new JobStatusStore(store, { logger, index });
  const jobs = new JobList({ index, statuses, logger });
  const queues = new QueueStats({ sqs: options.sqs, queueUrls: options.queueUrls, logger });
  const hub = new EventHub({ jobs, queues, logger, ...options.events });
  const retryDeps: RetryDeps = {
    store,
    statuses,
    publisher: new Publisher(options.sqs),
    ingestion: channel('ingestion', options.queueUrls.ingestion, JobRequestEnvelope),
    logger,
  };
  const loopbackOnly = loopbackHosts.test(options.host);
  if (!options.token) logger.info('DASHBOARD_TOKEN is not set: the dashboard is read-only (retry, cancel and redrive answer 403)');

  const json = <S extends z.ZodType>(res: ServerResponse, status: number, schema: S, body: z.input<S>, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(schema.parse(body));
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(res.req.method === 'HEAD' ? undefined : text);
  };

  const sendAsset = async (req: IncomingMessage, res: ServerResponse, found: Promise<Asset> | undefined, csp: string) => {
    if (!found) throw new HttpError(404, 'no such file');
    const file = await found;
    res.setHeader('Content-Security-Policy', csp);
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, { ETag: file.etag, 'Cache-Control': 'no-cache' });
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': file.contentType, 'Content-Length': file.body.length, ETag: file.etag, 'Cache-Control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  };

  const act = (req: IncomingMessage) => {
    const verdict = authorize(req.headers.authorization, options.token);
    if (verdict === 'disabled') throw new HttpError(403, 'actions are disabled: the dashboard runs without DASHBOARD_TOKEN');
    if (verdict === 'missing') throw new HttpError(401, 'this action needs Authorization: Bearer <DASHBOARD_TOKEN>', { 'WWW-Authenticate': 'Bearer realm="stageline"' });
    if (verdict === 'wrong') throw new HttpError(403, 'the token is not the dashboard token');
  };

  const jobIdOf = (raw: string): string => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      throw new HttpError(400, 'jobId: not valid URL encoding');
    }
    if (!JobId.safeParse(decoded).success) throw new HttpError(404, 'no such job: a jobId is 1-64 of [A-Za-z0-9_-]');
    return decoded;
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const [rawPath = '/', rawQuery = ''] = rawUrl.split('?', 2);
    const parts = rawPath.split('/').slice(1);
    const method = req.method ?? 'GET';
    const reading = method === 'GET' || method === 'HEAD';
    const allow = (allowed: string) => {
      if (!allowed.split(', ').includes(method)) throw new HttpError(405, `use ${allowed}`, { Allow: allowed });
    };

    if (rawPath === '/' || rawPath === '/index.html') {
      allow('GET, HEAD');
      return sendAsset(req, res, asset('page', 'index.html'), pageCsp);
    }
    if (parts[0] === 'assets' && parts.length === 2) {
      allow('GET, HEAD');
      return sendAsset(req, res, asset('page', parts[1]!), pageCsp);
    }
    if (parts[0] === 'vendor' && parts.length === 2) {
      allow('GET, HEAD');
      return sendAsset(req, res, asset('vendor', parts[1]!), pageCsp);
    }
    if (parts[0] !== 'api') throw new HttpError(404, 'not found');
    res.setHeader('Content-Security-Policy', dataCsp);
    const [, resource, id, sub, ...rest] = parts;

    if (resource === 'queues' && parts.length === 2) {
      allow('GET, HEAD');
      return json(res, 200, QueuesResponse, await queues.all());
    }
    if (resource === 'events' && parts.length === 2) {
      allow('GET');
      hub.attach(res);
      return;
    }
    if (resource === 'jobs' && parts.length === 2) {
      allow('GET, HEAD');
      const params = Object.fromEntries([...new URLSearchParams(rawQuery)].filter(([, v]) => v !== ''));
      const query = JobsQuery.safeParse(params);
      if (!query.success) {
        const issue = query.error.issues[0];
        throw new HttpError(400, `${issue?.path.join('.') || 'query'}: ${issue?.message ?? 'invalid'}`);
      }
      try {
        return json(res, 200, JobsPage, await jobs.page(query.data));
      } catch (err) {
        if (err instanceof CursorError) throw new HttpError(400, err.message);
        throw err;
      }
    }
    if (resource === 'jobs' && id !== undefined && sub === undefined) {
      allow('GET, HEAD');
      const jobId = jobIdOf(id);
      const status = await statuses.get(jobId);
      if (!status) throw new HttpError(404, `no job ${jobId}`);
      const links = Object.fromEntries(Object.entries(status.outputs).flatMap(([name, key]) => {
        const link = outputLink(jobId, key);
        return link ? [[name, link]] : [];
      }));
      return json(res, 200, JobDetail, { ...status, links });
    }
    if (resource === 'jobs' && id !== undefined && sub === 'outputs') {
      allow('GET, HEAD');
      const jobId = jobIdOf(id);
      const key = outputKey(jobId, rest);
      if (!key) throw new HttpError(400, `not an output name: outputs are named by their path under jobs/${jobId}/ (no empty, . or .. segments)`);
      return serveOutput(req, res, key);
    }
    if (resource === 'jobs' && id !== undefined && (sub === 'retry' || sub === 'cancel') && rest.length === 0) {
      allow('POST');
      act(req);
      const jobId = jobIdOf(id);
      if (sub === 'retry') {
        const result = await retryJob(retryDeps, jobId).catch((err: unknown) => {
          throw err instanceof RetryNotSentError ? new HttpError(503, err.message) : err;
        });
        if (result.outcome === 'missing') throw new HttpError(404, `no job ${jobId}`);
        if (result.outcome === 'refused') throw new HttpError(409, `cannot retry ${jobId}: ${result.reason}`);
        return json(res, 200, JobActionResult, { jobId, action: 'retry', status: result.status, optionsFrom: result.optionsFrom });
      }
      const current = await statuses.get(jobId);
      if (!current) throw new HttpError(404, `no job ${jobId}`);
      // The conditional write decides a race with the job's start: whichever writes first wins.
      const { status, changed } = await statuses.cancelled(current);
      if (!changed) throw new HttpError(409, `cannot cancel ${jobId}: it is ${status.state}; only a scheduled job can be cancelled`);
      return json(res, 200, JobActionResult, { jobId, action: 'cancel', status });
    }
    if (resource === 'dlq' && id !== undefined && sub === 'redrive' && rest.length === 0) {
      allow('POST');
      act(req);
      const stage = StageName.safeParse(id);
      if (!stage.success) throw new HttpError(404, `no stage ${id}: the stages are ingestion, validation and analysis`);
      let moved;
      try {
        moved = await deadLetters(options.sqs, stage.data, options.queueUrls[stage.data], true);
      } catch (err) {
        if (/no RedrivePolicy/.test(errorMessage(err))) throw new HttpError(409, errorMessage(err));
        throw err;
      }
      logger.info({ stage: stage.data, moved: moved.length }, 'dead-letter queue redriven from the dashboard');
      return json(res, 200, RedriveResult, { stage: stage.data, moved: moved.length });
    }
    if (!reading && method !== 'POST') throw new HttpError(405, 'not a method this API answers', { Allow: 'GET, HEAD, POST' });
    throw new HttpError(404, 'no such API route (docs/dashboard.md lists them)');
  }

  async function serveOutput(req: IncomingMessage, res: ServerResponse, key: string): Promise<void> {
    const range = parseRange(req.headers.range);
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const found = await downloadObject(options.s3, options.bucket, key, range, abort.signal);
    if (found.kind === 'missing') throw new HttpError(404, 'no such output');
    if (found.kind === 'unsatisfiable') {
      throw new HttpError(416, `the range is outside the output's ${found.size} bytes`, { 'Content-Range': `bytes */${found.size}`, 'Accept-Ranges': 'bytes' });
    }
    res.writeHead(found.status, {
      'Content-Type': outputContentType(key, found.contentType),
      'Content-Length': found.length,
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-cache',
      ...(found.contentRange ? { 'Content-Range': found.contentRange } : {}),
      ...(found.etag ? { ETag: found.etag } : {}),
      ...(found.lastModified ? { 'Last-Modified': found.lastModified.toUTCString() } : {}),
    });
    if (req.method === 'HEAD') {
      found.body.destroy();
      res.end();
      return;
    }
    await pipeline(found.body, res).catch((err: unknown) => {
      if (!abort.signal.aborted) logger.warn({ key, err: errorMessage(err) }, 'output download broke off');
    });
  }

  const server = createServer((req, res) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    // The body of an action is not read: nothing in it counts.
    if (req.method === 'POST') req.resume();
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const handled = loopbackOnly && !loopbackHosts.test(host) ? Promise.reject(new HttpError(421, 'this dashboard answers only to localhost, 127.0.0.1 or [::1]')) : route(req, res);
    handled.catch((err: unknown) => {
      const known = err instanceof HttpError;
      const status = known ? err.status : isInfrastructureError(err) ? 503 : 500;
      const message = known ? err.message : status === 503 ? `S3 or SQS is not answering: ${errorMessage(err)}` : 'internal error (the dashboard log has it)';
      if (!known) logger.error({ method: req.method, url: req.url, err: errorMessage(err) }, 'dashboard request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.setHeader('Content-Security-Policy', dataCsp);
      json(res, status, ApiError, { error: message }, known ? err.headers : {});
    });
  });
  server.listen(options.port, options.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${port}/`;
  logger.info({ url, actions: options.token ? 'enabled (token)' : 'disabled (no DASHBOARD_TOKEN)' }, 'dashboard listening');
  return {
    url,
    port,
    server,
    eventListeners: () => hub.listeners,
    close: async () => {
      hub.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
