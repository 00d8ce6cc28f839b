import { readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface HlsUpload {
  /** The directory ffmpeg's hls muxer writes into (`segment-NNNNN.ts` and `index.m3u8`). */
  readonly dir: string;
  /** Settles when ffmpeg has exited; rejects when the encode failed. */
  readonly encode: Promise<void>;
  /** Stops the encode (an upload failed): the caller's ffmpeg run must listen to it. */
  readonly stopEncode: (reason: unknown) => void;
  /** Uploads one file of `dir` by name; returns its object key. */
  readonly upload: (file: string, contentType: string) => Promise<string>;
  /** Uploads at once. */
  readonly concurrency: number;
  /** How often the directory is looked at while ffmpeg runs. */
  readonly pollMs: number;
}

const isSegment = (file: string) => file.endsWith('.ts');

/**
 * Uploads the segments while ffmpeg is still encoding, so that only the last segment and the playlist are
 * left when it exits (uploading ~100 segments after a 10-minute encode cost 6% over the bare encode).
 * A segment is complete once the next one exists: the hls muxer closes a segment before it opens the
 * next (`segment-%05d.ts` sorts in write order); after ffmpeg has exited every segment is complete.
 * The playlist goes last, once every segment is stored, so a reader never finds it naming a missing one.
 * Settles only when no upload is still reading from `dir`, so the caller may remove it.
 * Returns the keys by file name (the playlist included).
 */
export async function uploadHlsWhileEncoding(spec: HlsUpload): Promise<Record<string, string>> {
  const keys: Record<string, string> = {};
  const started = new Set<string>();
  const running = new Set<Promise<void>>();
  let uploadFailure: { error: unknown } | undefined;
  let encodeState = 'running' as 'running' | 'done' | 'failed';
  const encode = spec.encode.then(
    () => {
      encodeState = 'done';
    },
    (error: unknown) => {
      encodeState = 'failed';
      throw error;
    },
  );
  encode.catch(() => undefined);

  const start = (file: string) => {
    started.add(file);
    const upload: Promise<void> = spec
      .upload(file, 'video/mp2t')
      .then((key) => {
        keys[file] = key;
      })
      .catch((error: unknown) => {
        uploadFailure ??= { error };
        spec.stopEncode(error);
      })
      .finally(() => running.delete(upload));
    running.add(upload);
  };

  try {
    while (!uploadFailure) {
      // Read before listing: if ffmpeg had exited by then, the listing holds every segment, all complete.
      // A failed encode uploads nothing more.
      const state = encodeState;
      if (state === 'failed') break;
      const finished = state === 'done';
      const segments = (await readdir(spec.dir)).filter(isSegment).sort();
      const complete = finished ? segments : segments.slice(0, -1);
      for (const file of complete) {
        if (started.has(file)) continue;
        while (running.size >= spec.concurrency) await Promise.race(running);
        if (uploadFailure) break;
        start(file);
      }
      if (finished) break;
      await Promise.race([encode.catch(() => undefined), sleep(spec.pollMs)]);
    }
  } catch (error) {
    // The directory could not be read: nothing more is uploaded, and ffmpeg is stopped.
    uploadFailure ??= { error };
    spec.stopEncode(error);
  }

  // Wait for ffmpeg and every upload to stop touching the directory before reporting anything.
  const [encodeResult] = await Promise.allSettled([encode, ...running]);
  if (uploadFailure) throw uploadFailure.error;
  if (encodeResult.status === 'rejected') throw encodeResult.reason;
  keys['index.m3u8'] = await spec.upload('index.m3u8', 'application/vnd.apple.mpegurl');
  return keys;
}
