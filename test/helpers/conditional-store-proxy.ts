import { randomUUID } from 'node:crypto';
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ConditionalStoreProxy {
  /** `http://127.0.0.1:<port>`: give it to a client as AWS_ENDPOINT_URL (S3 and SQS both pass through). */
  readonly url: string;
  /** Conditional PutObject requests seen, and refused (412), per condition header. */
  readonly conditional: { ifMatch: number; ifNoneMatch: number };
  readonly refused: { ifMatch: number; ifNoneMatch: number };
  /**
   * From now on, the bodies of the PutObjects the store takes whose path ends with `suffix`, in the order it
   * stores them (the returned array fills): every version of an object anyone could read, without polling.
   */
  watch(suffix: string): Buffer[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of the emulator that enforces S3 conditional writes as AWS does, since fauxqs
 * ignores them: a PutObject with `If-None-Match: *` over an existing object, or with `If-Match` naming
 * another ETag, is answered 412 PreconditionFailed (S3's XML error) and never reaches the emulator.
 * The ETag is read upstream with a HEAD, and every PutObject of one key waits for the one before it, so
 * the check and the write are one step, as in S3. Everything else is forwarded untouched.
 */
export async function startConditionalStoreProxy(upstream: string): Promise<ConditionalStoreProxy> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  const conditional = { ifMatch: 0, ifNoneMatch: 0 };
  const refused = { ifMatch: 0, ifNoneMatch: 0 };
  const putsByKey = new Map<string, Promise<void>>();
  const watches: { suffix: string; bodies: Buffer[] }[] = [];

  /** Resolves with the upstream's status code once its answer has been passed on (undefined if it failed). */
  const forward = (req: IncomingMessage, body: Buffer | undefined, res: ServerResponse): Promise<number | undefined> =>
    new Promise((resolve) => {
      const out = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent }, (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
        upstreamRes.on('end', () => resolve(upstreamRes.statusCode));
        upstreamRes.on('error', () => resolve(undefined));
      });
      out.on('error', () => {
        res.destroy();
        resolve(undefined);
      });
      // A client that goes away (a killed worker's long poll) takes its upstream request with it.
      res.on('close', () => {
        if (!res.writableFinished) out.destroy();
      });
      if (body) out.end(body);
      else req.pipe(out);
    });

  const headETag = (path: string, headers: IncomingHttpHeaders): Promise<string | undefined> =>
    new Promise((resolve, reject) => {
      const out = request({ host: target.hostname, port: target.port, method: 'HEAD', path, headers: { host: headers.host ?? target.host }, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? String(res.headers.etag ?? '') : undefined));
      });
      out.on('error', reject);
      out.end();
    });

  const conditionalPut = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const ifMatch = header(req.headers['if-match']);
    const ifNoneMatch = header(req.headers['if-none-match']);
    if (ifMatch !== undefined) conditional.ifMatch += 1;
    if (ifNoneMatch !== undefined) conditional.ifNoneMatch += 1;
    const etag = ifMatch !== undefined || ifNoneMatch !== undefined ? await headETag(path, req.headers) : undefined;
    if (ifNoneMatch === '*' && etag !== undefined) {
      refused.ifNoneMatch += 1;
      return answerError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 'If-None-Match');
    }
    if (ifMatch !== undefined && etag === undefined) return answerError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
    if (ifMatch !== undefined && unquote(ifMatch) !== unquote(etag ?? '')) {
      refused.ifMatch += 1;
      return answerError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 'If-Match');
    }
    // Per key, PutObjects run one at a time (below): the order they are taken in is the order stored.
    if ((await forward(req, body, res)) !== 200) return;
    for (const w of watches) if (path.endsWith(w.suffix)) w.bodies.push(body);
  };

  const server = createServer((req, res) => {
    const isObjectPut = req.method === 'PUT' && !req.headers['x-amz-target'] && !/[?&](partNumber|uploadId)=/.test(req.url ?? '');
    if (!isObjectPut) {
      void forward(req, undefined, res);
      return;
    }
    // One PutObject per key at a time: S3 decides a conditional write atomically.
    const key = (req.url ?? '/').split('?')[0] ?? '/';
    const previous = putsByKey.get(key) ?? Promise.resolve();
    const mine = previous.then(() => conditionalPut(req, res)).catch(() => void res.destroy());
    putsByKey.set(key, mine);
    void mine.finally(() => {
      if (putsByKey.get(key) === mine) putsByKey.delete(key);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    conditional,
    refused,
    watch: (suffix) => {
      const bodies: Buffer[] = [];
      watches.push({ suffix, bodies });
      return bodies;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function unquote(etag: string): string {
  return etag.replace(/^W\//, '').replaceAll('"', '');
}

function answerError(res: ServerResponse, status: number, code: string, message: string, condition?: string): void {
  const requestId = randomUUID();
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${message}</Message>${condition ? `<Condition>${condition}</Condition>` : ''}<RequestId>${requestId}</RequestId><HostId>conditional-store-proxy</HostId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': requestId });
  res.end(body);
}
