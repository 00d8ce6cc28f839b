import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { S3Client } from '@aws-sdk/client-s3';
import { ObjectStore } from '../../src/storage/object-store.js';

/**
 * What a task's output costs in S3 calls: a small stream (validated.csv of a tiny job) is one PutObject,
 * and only a stream larger than one part (5 MiB, S3's smallest) goes multipart. The client answers every call itself,
 * so the test counts operations, not bytes on a wire.
 */
function countingStore(): { store: ObjectStore; calls: string[]; bytes: Map<string, number> } {
  const client = new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const calls: string[] = [];
  const bytes = new Map<string, number>();
  client.middlewareStack.add(
    () => async () => ({ output: { $metadata: {}, ETag: '"e"', UploadId: 'u1', Location: 'x' }, response: {} }) as never,
    { step: 'initialize', name: 'answerAll' },
  );
  // The command's name is known in the handler context; a second middleware records it before answering.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = (context.commandName ?? '?').replace(/Command$/, '');
      calls.push(op);
      const body = (args.input as { Body?: unknown }).Body;
      if (body instanceof Uint8Array || typeof body === 'string') bytes.set(op, (bytes.get(op) ?? 0) + Buffer.byteLength(body));
      return next(args);
    },
    { step: 'initialize', name: 'countCalls', priority: 'high' },
  );
  return { store: new ObjectStore(client, 'bucket'), calls, bytes };
}

function chunked(totalBytes: number, chunkBytes = 64 * 1024): Readable {
  let left = totalBytes;
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const n = Math.min(chunkBytes, left);
      left -= n;
      this.push(Buffer.alloc(n, 0x61));
    },
  });
}

test('a small stream is uploaded with one PutObject', async () => {
  const { store, calls, bytes } = countingStore();
  await store.upload('jobs/j/validated.csv', Readable.from([Buffer.from('id,amount\n'), Buffer.from('1,2\n')]), 'text/csv');
  assert.deepEqual(calls, ['PutObject']);
  assert.equal(bytes.get('PutObject'), 14);
});

test('an empty stream is one PutObject of nothing', async () => {
  const { store, calls } = countingStore();
  await store.upload('jobs/j/rejects.jsonl', Readable.from([]), 'application/x-ndjson');
  assert.deepEqual(calls, ['PutObject']);
});

test('a stream larger than one part still goes multipart, in 5 MiB parts', async () => {
  const { store, calls, bytes } = countingStore();
  await store.upload('jobs/j/validated.csv', chunked(11 * 1024 * 1024), 'text/csv');
  assert.deepEqual([...calls].sort(), ['CompleteMultipartUpload', 'CreateMultipartUpload', 'UploadPart', 'UploadPart', 'UploadPart']);
  assert.equal(bytes.get('UploadPart'), 11 * 1024 * 1024);
});
