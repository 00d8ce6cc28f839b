import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';

// Only the parts of Sentry's envelope items that the assertions read. @sentry/node 11 streams spans
// (`span` items, format v2) rather than sending transactions; errors are `event` items.
const ErrorEvent = z.object({
  contexts: z.object({ trace: z.object({ trace_id: z.string(), span_id: z.string() }) }),
  tags: z.record(z.string(), z.unknown()).default({}),
});
type ErrorEvent = z.infer<typeof ErrorEvent>;
const StreamedSpans = z.object({
  items: z.array(
    z.object({
      name: z.string(),
      span_id: z.string(),
      trace_id: z.string(),
      parent_span_id: z.string().optional(),
      is_segment: z.boolean(),
      attributes: z.record(z.string(), z.object({ value: z.unknown() })).default({}),
    }),
  ),
});
export interface Span {
  spanId: string;
  traceId: string;
  parentSpanId: string | undefined;
  isSegment: boolean;
  op: unknown;
  data: Record<string, unknown>;
}

/** A stand-in for Sentry's ingest: collects the event and transaction items of every envelope. */
export class EnvelopeSink {
  readonly errors: ErrorEvent[] = [];
  readonly spans: Span[] = [];
  private readonly server: Server = createServer((req, res) => {
    void readBody(req).then((body) => {
      for (const item of parseEnvelope(body)) {
        if (item.type === 'event') this.errors.push(ErrorEvent.parse(item.payload));
        if (item.type === 'span') {
          for (const s of StreamedSpans.parse(item.payload).items) {
            const data = Object.fromEntries(Object.entries(s.attributes).map(([k, v]) => [k, v.value]));
            this.spans.push({ spanId: s.span_id, traceId: s.trace_id, parentSpanId: s.parent_span_id, isSegment: s.is_segment, op: data['sentry.op'], data });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async waitFor(predicate: (sink: EnvelopeSink) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline) throw new Error(`envelopes did not arrive; got ${this.errors.length} errors and spans ${JSON.stringify(this.spans.map((s) => s.op))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

/** Envelope: a header line, then per item a header line and a payload (of `length` bytes when given). */
function parseEnvelope(body: Buffer): { type: string; payload: unknown }[] {
  const out: { type: string; payload: unknown }[] = [];
  let pos = body.indexOf(0x0a) + 1;
  while (pos > 0 && pos < body.length) {
    const headerEnd = body.indexOf(0x0a, pos);
    const itemHeader = z.object({ type: z.string(), length: z.number().optional() }).parse(JSON.parse(body.subarray(pos, headerEnd).toString()));
    const start = headerEnd + 1;
    const end = itemHeader.length !== undefined ? start + itemHeader.length : (body.indexOf(0x0a, start) + 1 || body.length + 1) - 1;
    const payload = body.subarray(start, end).toString();
    out.push({ type: itemHeader.type, payload: JSON.parse(payload) });
    pos = end + 1;
  }
  return out;
}

