import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { z } from 'zod';
import { BadInputError } from '../errors.js';
import type { ObjectRef } from '../pipeline/messages.js';

export interface ObjectInfo {
  size: number;
  contentType?: string;
}

export type UploadBody = Readable | Buffer | string;

/**
 * S3 access for the pipeline. Inputs are read by reference; outputs go to the job's own prefix in the
 * configured bucket. Uploads are multipart (lib-storage) so an output of any size streams through in
 * bounded memory.
 */
export class ObjectStore {
  constructor(
    readonly client: S3Client,
    readonly bucket: string,
  ) {}

  /** Size and type of an input; a missing object is bad input, not a transient failure. */
  async head(ref: ObjectRef, signal?: AbortSignal): Promise<ObjectInfo> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }), { abortSignal: signal });
      return { size: res.ContentLength ?? 0, ...(res.ContentType ? { contentType: res.ContentType } : {}) };
    } catch (err) {
      throw notFoundAsBadInput(err, ref);
    }
  }

  /** The first bytes of an object (content sniffing), without reading the rest. */
  async readHead(ref: ObjectRef, bytes: number, signal?: AbortSignal): Promise<Buffer> {
    const stream = await this.getStream(ref, signal, `bytes=0-${bytes - 1}`);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async getStream(ref: ObjectRef, signal?: AbortSignal, range?: string): Promise<Readable> {
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, ...(range ? { Range: range } : {}) }),
        { abortSignal: signal },
      );
      if (!(res.Body instanceof Readable)) throw new Error('S3 GetObject returned no Node stream body');
      return res.Body;
    } catch (err) {
      throw notFoundAsBadInput(err, ref);
    }
  }

  /** Copies an object to a local file (untrusted media is handed to tools as a private file, never a URL). */
  async downloadToFile(ref: ObjectRef, path: string, signal?: AbortSignal): Promise<void> {
    const body = await this.getStream(ref, signal);
    await pipeline(body, createWriteStream(path, { mode: 0o600 }), { signal });
  }

  /** Writes to the pipeline bucket; returns the key. */
  async upload(key: string, body: UploadBody, contentType: string, signal?: AbortSignal): Promise<string> {
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
        { abortSignal: signal },
      );
      return key;
    }
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return key;
  }

  async putJson(key: string, value: unknown, signal?: AbortSignal): Promise<string> {
    return this.upload(key, JSON.stringify(value, null, 2) + '\n', 'application/json', signal);
  }

  /** Reads and validates a JSON object from the pipeline bucket; undefined when it does not exist. */
  async getJson<S extends z.ZodType>(key: string, schema: S, signal?: AbortSignal): Promise<z.infer<S> | undefined> {
    let text: string;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
      text = (await res.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return schema.parse(JSON.parse(text));
  }
}

export function jobKey(jobId: string, name: string): string {
  return `jobs/${jobId}/${name}`;
}

export function isNotFound(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || status === 404;
}

function notFoundAsBadInput(err: unknown, ref: ObjectRef): unknown {
  if (!isNotFound(err)) return err;
  return new BadInputError(
    'INPUT_NOT_FOUND',
    `The input s3://${ref.bucket}/${ref.key} does not exist (or this worker may not read it). Upload it, then submit the job again.`,
    { cause: err },
  );
}
