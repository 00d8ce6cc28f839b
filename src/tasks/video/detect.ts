import { spawn } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { AbortedError, TransientError } from '../../contract/errors.js';
import type { ObjectRef } from '../../contract/job.js';
import { guardProcess } from '../../media/process-guard.js';
import type { Detection } from '../../pipeline/task.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { videoStdinArgs } from './ffmpeg/demuxers.js';
import type { VideoToolkit } from './ffmpeg/toolkit.js';

const ascii = (buf: Buffer, at: number, text: string) => buf.subarray(at, at + text.length).toString('latin1') === text;

/** MP4 major brands only ever used for audio (iTunes audio, audiobooks, protected audio, Flash audio). */
const audioOnlyBrands = new Set(['M4A ', 'M4B ', 'M4P ', 'F4A ']);

const tsPacket = 188;

/**
 * Containers that may hold video, by their magic bytes. Each may as well hold only audio (an MP4 of
 * sound, a WebM of Opus), so none is certain: the content must confirm it (confirmVideo).
 */
export function detectVideo(head: Buffer): Detection {
  if (ascii(head, 4, 'ftyp')) return audioOnlyBrands.has(head.toString('latin1', 8, 12)) ? undefined : 'confirm';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return 'confirm'; // EBML: Matroska/WebM
  // MPEG-TS: a sync byte at the start of three consecutive 188-byte packets.
  if (head.length > 2 * tsPacket && [0, tsPacket, 2 * tsPacket].every((at) => head[at] === 0x47)) return 'confirm';
  return undefined;
}

const StreamsReport = z.looseObject({
  streams: z
    .array(
      z.looseObject({
        codec_type: z.string().optional(),
        disposition: z.looseObject({ attached_pic: z.number().optional() }).optional(),
      }),
    )
    .default([]),
});

const maxReport = 1024 * 1024;
const killGraceMs = 3000;

/** Passes at most `max` bytes on: a read past MAX_INPUT_BYTES is never needed to find a stream. */
async function* capped(source: Readable, max: number): AsyncGenerator<Buffer> {
  let sent = 0;
  for await (const chunk of source) {
    const bytes = chunk as Buffer;
    if (sent + bytes.length >= max) {
      yield bytes.subarray(0, max - sent);
      return;
    }
    sent += bytes.length;
    yield bytes;
  }
}

/**
 * Whether the upload holds a real video stream (not only cover art), asked of ffprobe with the object
 * streamed into its stdin: no download, and the stream stops as soon as ffprobe has seen enough (the
 * first kilobytes of a faststart MP4, MKV or TS; all of an MP4 whose index is at its end). Read under
 * the same demuxer allowlist as every video run, with the `pipe` protocol only. `unreadable` when the
 * probe fails (noise, a crash, the time limit). An abort, or the store failing before ffprobe could
 * answer, is thrown: that is no verdict on the content.
 */
export async function confirmVideo(input: ObjectRef, store: ObjectStore, signal: AbortSignal, kit: VideoToolkit): Promise<'video' | 'no-video' | 'unreadable'> {
  const body = await store.getStream(input, signal);
  const child = spawn(kit.ffprobePath, ['-v', 'error', ...videoStdinArgs, '-print_format', 'json', '-show_streams', '-i', 'pipe:0'], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const guard = guardProcess({ what: 'ffprobe (video confirmation)', timeoutMs: kit.limits.probeTimeoutMs, killGraceMs, signal, kill: (s) => child.kill(s) });

  let ended = false;
  let sourceError: unknown;
  body.on('error', (err) => {
    if (!ended) sourceError ??= err;
  });
  // ffprobe closing its stdin early (it has what it needs) is expected, not an error.
  child.stdin.on('error', () => undefined);
  pipeline(capped(body, kit.limits.maxBytes), child.stdin).catch(() => undefined);

  let stdout = '';
  let oversized = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.length > maxReport && !oversized) {
      oversized = true;
      child.kill('SIGKILL');
    }
  });
  const [code, killedBy] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', (err) => reject(new TransientError(`could not run ffprobe: ${err.message}`, { cause: err })));
    child.on('close', (c, s) => resolve([c, s]));
  }).finally(() => {
    guard.release();
    ended = true;
    body.destroy();
  });

  if (guard.stopReason instanceof AbortedError) throw guard.stopReason;
  const answered = !guard.stopReason && !oversized && !killedBy && code === 0;
  if (!answered) {
    if (sourceError !== undefined) throw sourceError;
    return 'unreadable';
  }
  const parsed = StreamsReport.safeParse(safeJson(stdout));
  if (!parsed.success) return 'unreadable';
  return parsed.data.streams.some((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1) ? 'video' : 'no-video';
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
