import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { uploadHlsWhileEncoding } from '../../src/tasks/audio/transcode/hls-upload.js';

/** Writes segments one by one like the hls muxer (each one closed before the next appears), then the playlist. */
async function fakeEncode(dir: string, segments: number, stopped: AbortSignal, failAfter?: number): Promise<void> {
  for (let i = 0; i < segments; i++) {
    if (stopped.aborted) throw new Error('stopped');
    if (i === failAfter) throw new Error('encode failed');
    await writeFile(join(dir, `segment-${String(i).padStart(5, '0')}.ts`), `segment ${i}`);
    await sleep(15);
  }
  await writeFile(join(dir, 'index.m3u8'), '#EXTM3U');
}

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hls-upload-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('hls upload: segments go up while encoding, each only once the next exists, the playlist last', () =>
  withDir(async (dir) => {
    const stop = new AbortController();
    let encoding = true;
    const order: { file: string; whileEncoding: boolean }[] = [];
    const encode = fakeEncode(dir, 8, stop.signal).finally(() => (encoding = false));
    const keys = await uploadHlsWhileEncoding({
      dir,
      encode,
      stopEncode: (reason) => stop.abort(reason),
      upload: async (file) => {
        order.push({ file, whileEncoding: encoding });
        return `key/${file}`;
      },
      concurrency: 2,
      pollMs: 5,
    });
    const files = order.map((u) => u.file);
    assert.deepEqual(files.slice(0, -1).sort(), Array.from({ length: 8 }, (_, i) => `segment-${String(i).padStart(5, '0')}.ts`));
    assert.equal(files.at(-1), 'index.m3u8');
    assert.ok(order.filter((u) => u.whileEncoding).length >= 4, 'most segments uploaded during the encode');
    assert.equal(order.at(-1)?.whileEncoding, false);
    assert.equal(keys['index.m3u8'], 'key/index.m3u8');
    assert.equal(Object.keys(keys).length, 9);
  }));

test('hls upload: a failed encode uploads no playlist and reports the encode error', () =>
  withDir(async (dir) => {
    const stop = new AbortController();
    const uploaded: string[] = [];
    const run = uploadHlsWhileEncoding({
      dir,
      encode: fakeEncode(dir, 8, stop.signal, 4),
      stopEncode: (reason) => stop.abort(reason),
      upload: async (file) => {
        uploaded.push(file);
        return file;
      },
      concurrency: 2,
      pollMs: 5,
    });
    await assert.rejects(run, /encode failed/);
    assert.ok(!uploaded.includes('index.m3u8'));
    assert.ok(!uploaded.includes('segment-00003.ts'), 'the last segment written may be incomplete: never uploaded');
  }));

test('hls upload: a failed upload stops the encode and waits for it before rejecting', () =>
  withDir(async (dir) => {
    const stop = new AbortController();
    let encodeSettled = false;
    const encode = fakeEncode(dir, 50, stop.signal).finally(() => (encodeSettled = true));
    const run = uploadHlsWhileEncoding({
      dir,
      encode,
      stopEncode: (reason) => stop.abort(reason),
      upload: async (file) => {
        if (file === 'segment-00001.ts') throw new Error('upload failed');
        return file;
      },
      concurrency: 2,
      pollMs: 5,
    });
    await assert.rejects(run, /upload failed/);
    assert.ok(stop.signal.aborted, 'encode told to stop');
    assert.ok(encodeSettled, 'settled only after the encode');
  }));
