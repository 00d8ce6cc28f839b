import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isNotFound } from './object-store.js';

/** One byte range as HTTP names it: `bytes=a-b`, `bytes=a-` or the suffix `bytes=-n`. */
export type ByteRange = { start: number; end?: number } | { suffix: number };

export type Download =
  | {
      kind: 'body';
      /** 206 for a range, else 200. */
      status: 200 | 206;
      body: Readable;
      length: number;
      contentType?: string;
      /** `bytes a-b/size` for a range. */
      contentRange?: string;
      etag?: string;
      lastModified?: Date;
    }
  | { kind: 'unsatisfiable'; size: number }
  | { kind: 'missing' };

/**
 * An object of the pipeline bucket as an HTTP answer: the stored bytes, whole or one range, with
 * what S3 says of them. S3 decides the range against the object's size (416 when it starts past the
 * end); the size for that answer comes from a HEAD, only then.
 */
export async function downloadObject(client: S3Client, bucket: string, key: string, range: ByteRange | undefined, signal?: AbortSignal): Promise<Download> {
  // The last 0 bytes: a range no object satisfies (RFC 9110), which S3 would answer with the whole object.
  if (range && 'suffix' in range && range.suffix === 0) return sizeOnly(client, bucket, key, signal);
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: rangeHeader(range) } : {}) }), { abortSignal: signal });
    if (!res.Body) throw new Error(`S3 returned s3://${bucket}/${key} without a body`);
    const ranged = range !== undefined && res.ContentRange !== undefined;
    return {
      kind: 'body',
      status: ranged ? 206 : 200,
      body: res.Body as Readable,
      length: res.ContentLength ?? 0,
      ...(res.ContentType ? { contentType: res.ContentType } : {}),
      ...(ranged && res.ContentRange ? { contentRange: res.ContentRange } : {}),
      ...(res.ETag ? { etag: res.ETag } : {}),
      ...(res.LastModified ? { lastModified: res.LastModified } : {}),
    };
  } catch (err) {
    if (isNotFound(err)) return { kind: 'missing' };
    if (range && isInvalidRange(err)) return sizeOnly(client, bucket, key, signal);
    throw err;
  }
}

async function sizeOnly(client: S3Client, bucket: string, key: string, signal: AbortSignal | undefined): Promise<Download> {
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    return { kind: 'unsatisfiable', size: head.ContentLength ?? 0 };
  } catch (err) {
    if (isNotFound(err)) return { kind: 'missing' };
    throw err;
  }
}

export function rangeHeader(range: ByteRange): string {
  return 'suffix' in range ? `bytes=-${range.suffix}` : `bytes=${range.start}-${range.end ?? ''}`;
}

function isInvalidRange(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name === 'InvalidRange' || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416;
}
