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
import { BadInputError } from '../contract/errors.js';
import { conditionalWriteProbeKey } from '../contract/job-keys.js';
import { InputScope } from './input-scope.js';
import type { ObjectRef } from '../contract/job.js';

export interface ObjectInfo {
  size: number;
  contentType?: string;
  /** The content's ETag: what a unique job's default key names. */
  etag?: string;
}

export type UploadBody = Readable | Buffer | string;

/** A document together with the ETag it was read at, so that it can be written back conditionally. */
export interface Versioned<T> {
  value: T;
  etag: string;
}

/** A conditional write that took place, with the ETag S3 gave the new version (for the writer's next conditional write). */
export interface Written {
  etag: string | undefined;
}

/** `ifMatch`: only over the version read (that ETag); `ifNoneMatch: '*'`: only if no object exists yet. */
export type WriteCondition = { ifMatch: string } | { ifNoneMatch: '*' };

/**
 * S3 access for the pipeline. Inputs are read by reference; outputs go to the job's own prefix in the
 * configured bucket. Uploads are multipart (lib-storage) so an output of any size streams through in
 * bounded memory.
 */
export class ObjectStore {
  constructor(
    readonly client: S3Client,
    readonly bucket: string,
    /**
     * Which objects a job may name for reading (its input, a CSV schemaKey): every reader of such an
     * object checks it first. The store's own reads (status, outputs under jobs/) are not such reads.
     */
    readonly inputScope: InputScope = InputScope.forBucket(bucket),
  ) {}

  /** Size and type of an input; a missing object is bad input, not a transient failure. */
  async head(ref: ObjectRef, signal?: AbortSignal): Promise<ObjectInfo> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }), { abortSignal: signal });
      return { size: res.ContentLength ?? 0, ...(res.ContentType ? { contentType: res.ContentType } : {}), ...(res.ETag ? { etag: res.ETag } : {}) };
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
      // S3's smallest part: with two in flight and one filling, a streamed output holds ~15 MiB
      // (and lib-storage's copy of each part) rather than ~24 (bench:csv-e2e: peak RSS 10-20 MB lower).
      queueSize: 2,
      partSize: 5 * 1024 * 1024,
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
    return (await this.getJsonVersioned(key, schema, signal))?.value;
  }

  /** Like getJson, with the ETag of the version read (for putJsonIf). */
  async getJsonVersioned<S extends z.ZodType>(key: string, schema: S, signal?: AbortSignal): Promise<Versioned<z.infer<S>> | undefined> {
    let text: string;
    let etag: string | undefined;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
      text = (await res.Body?.transformToString('utf8')) ?? '';
      etag = res.ETag;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    if (!etag) throw new Error(`S3 returned s3://${this.bucket}/${key} without an ETag`);
    return { value: parseDocument(text, schema, `s3://${this.bucket}/${key}`), etag };
  }

  /**
   * Writes a JSON document only if `condition` holds (S3 conditional writes). Returns false when
   * another writer got there first (412 PreconditionFailed, or 409 ConditionalRequestConflict for a
   * concurrent write); the caller re-reads and decides again. A store that ignores conditions always writes.
   */
  async putJsonIf(key: string, value: unknown, condition: WriteCondition, signal?: AbortSignal): Promise<Written | false> {
    try {
      const res = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: JSON.stringify(value, null, 2) + '\n',
          ContentType: 'application/json',
          ...('ifMatch' in condition ? { IfMatch: condition.ifMatch } : { IfNoneMatch: condition.ifNoneMatch }),
        }),
        { abortSignal: signal },
      );
      return { etag: res.ETag };
    } catch (err) {
      if (isConditionFailed(err)) return false;
      throw err;
    }
  }

  /**
   * Whether the store honours conditional writes: writes a probe object with `If-None-Match: *` twice;
   * a store that honours it refuses one of the two (AWS S3 does; fauxqs 1.9.2 and 2.4.1 do not).
   */
  async honoursConditionalWrites(signal?: AbortSignal): Promise<boolean> {
    for (let i = 0; i < 2; i++) {
      const written = await this.putJsonIf(conditionalWriteProbeKey, { purpose: 'stageline checks at start-up that this store honours If-None-Match' }, { ifNoneMatch: '*' }, signal);
      if (!written) return true;
    }
    return false;
  }
}

export function isNotFound(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || status === 404;
}

/** S3's answers to a conditional write whose condition failed, or that raced another conditional write. */
function isConditionFailed(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return err.name === 'PreconditionFailed' || err.name === 'ConditionalRequestConflict' || status === 412 || status === 409;
}

/**
 * A stored JSON document, validated. Its errors name the object, its size and the place in it, never
 * its text (JSON.parse quotes the text around an error): they end up in logs and status documents.
 */
function parseDocument<S extends z.ZodType>(text: string, schema: S, where: string): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${where} is not valid JSON (${Buffer.byteLength(text)} bytes)`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // The code and the place only: some messages quote the document (an unrecognized key, say).
    throw new Error(`${where} is not the document expected: ${issue?.code ?? 'invalid'} at ${issue?.path.join('.') || '(root)'}`);
  }
  return parsed.data;
}

function notFoundAsBadInput(err: unknown, ref: ObjectRef): unknown {
  if (!isNotFound(err)) return err;
  return new BadInputError(
    'INPUT_NOT_FOUND',
    `The input s3://${ref.bucket}/${ref.key} does not exist (or this worker may not read it). Upload it, then submit the job again.`,
    { cause: err },
  );
}
