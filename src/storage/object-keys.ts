import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** An empty body of known length (an empty string makes the SDK warn of a stream of unknown length). */
const emptyBody = new Uint8Array(0);

export interface KeyPage {
  keys: string[];
  /** More keys follow under the prefix. */
  truncated: boolean;
}

/**
 * Objects used for their names alone (the job index): empty bodies written, deleted and listed in
 * name order. S3 lists at most 1,000 names a request, in UTF-8 byte order, which for the ASCII names
 * written here is string order.
 */
export class ObjectKeys {
  constructor(
    readonly client: S3Client,
    readonly bucket: string,
  ) {}

  async put(key: string, signal?: AbortSignal): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: emptyBody, ContentType: 'application/octet-stream' }), { abortSignal: signal });
  }

  /** Deleting a name that does not exist succeeds (S3's own semantics). */
  async delete(key: string, signal?: AbortSignal): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
  }

  /** Up to `maxKeys` (at most 1,000) names under `prefix`, strictly after `startAfter` when given. */
  async list(prefix: string, options: { startAfter?: string; maxKeys?: number; signal?: AbortSignal } = {}): Promise<KeyPage> {
    const res = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: prefix,
        MaxKeys: Math.min(1000, Math.max(1, options.maxKeys ?? 1000)),
        ...(options.startAfter ? { StartAfter: options.startAfter } : {}),
      }),
      { abortSignal: options.signal },
    );
    return { keys: (res.Contents ?? []).flatMap((c) => (c.Key ? [c.Key] : [])), truncated: res.IsTruncated === true };
  }

  /** The first-level folders under `prefix` (names up to the next `/`), in name order, all pages. */
  async *folders(prefix: string, signal?: AbortSignal): AsyncGenerator<string> {
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) }),
        { abortSignal: signal },
      );
      for (const p of res.CommonPrefixes ?? []) if (p.Prefix) yield p.Prefix;
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  }
}
