import { mkdir, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { audioOptionsOf } from './options.js';
import { jobKey } from '../../contract/job-keys.js';
import type { Task, TaskContext, TaskResult } from '../../pipeline/task.js';
import { openAudioInput, type AudioSource } from './input/audio-input.js';
import { firstAudioTrack, noInputMetadata, uploadRun } from './input/ffmpeg-args.js';
import { asTaskError } from './ffmpeg/failures.js';
import { uploadHlsWhileEncoding } from './transcode/hls-upload.js';
import { formatArgs, renditions, type Rendition } from './transcode/renditions.js';
import type { AudioToolkit } from './ffmpeg/toolkit.js';
import { inParallel } from '../../pipeline/in-parallel.js';

/** Encoders are single-threaded: this many run at once, beside the stage's other tasks. */
const parallelEncodes = Math.max(1, availableParallelism());

/**
 * Analysis: the job's renditions (contract section 3), each one ffmpeg process writing into this task's
 * temp dir, then uploaded (multipart, streamed from disk) under audio/. The encodes run in parallel; the
 * first failure stops the others.
 */
export class TranscodeTask implements Task {
  readonly name = 'audio-transcode';

  constructor(private readonly kit: AudioToolkit) {}

  async run(ctx: TaskContext): Promise<TaskResult> {
    const source = await openAudioInput(ctx, this.kit);
    const wanted = [...new Set(audioOptionsOf(ctx.job).renditions)].map((name) => renditions[name]);
    const stop = new AbortController();
    const onAbort = () => stop.abort(ctx.signal.reason);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const outputs: Record<string, string> = {};
    await inParallel(wanted, parallelEncodes, async (rendition) => {
      const produced = await this.produce(ctx, source, rendition, stop.signal).catch((err: unknown) => {
        stop.abort(err);
        throw err;
      });
      Object.assign(outputs, produced);
    }).finally(() => ctx.signal.removeEventListener('abort', onAbort));
    return { outputs };
  }

  /** Encodes one rendition and uploads it; its temp files are gone when this returns, on every path. */
  async produce(ctx: TaskContext, source: AudioSource, rendition: Rendition, signal: AbortSignal): Promise<Record<string, string>> {
    const dir = join(ctx.tmpDir, rendition.name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Stops this encode alone when one of its own segment uploads fails.
    const stop = new AbortController();
    const encodeSignal = AbortSignal.any([signal, stop.signal]);
    try {
      const hls = rendition.output.kind === 'hls';
      const target = join(dir, rendition.output.kind === 'file' ? rendition.output.file : 'index.m3u8');
      const encode = this.kit.ffmpeg
        .run({
          what: `transcode ${rendition.name}`,
          ...uploadRun(source, this.kit.limits, 'error'),
          outputArgs: [
            ...firstAudioTrack(this.kit.limits),
            ...noInputMetadata,
            ...formatArgs(rendition, source.info.sampleRate, source.info.channels),
            ...rendition.args,
            ...(hls ? ['-hls_segment_filename', join(dir, 'segment-%05d.ts')] : []),
          ],
          output: target,
          signal: encodeSignal,
        })
        .catch((err: unknown) => Promise.reject(asTaskError(err)));
      if (rendition.output.kind === 'file') {
        await encode;
        const name = `audio/${rendition.output.file}`;
        return { [name]: await ctx.store.upload(jobKey(ctx.job.jobId, name), createReadStream(target), rendition.output.contentType, signal) };
      }
      const prefix = `audio/${rendition.output.dir}`;
      const keys = await uploadHlsWhileEncoding({
        dir,
        encode,
        stopEncode: (reason) => stop.abort(reason),
        upload: (file, contentType) => ctx.store.upload(jobKey(ctx.job.jobId, `${prefix}/${file}`), createReadStream(join(dir, file)), contentType, signal),
        concurrency: 4,
        pollMs: 100,
      });
      // Only the playlist is an output: it names its segments, and listing hundreds of segments would
      // bloat status.json and the job events (an SQS message has a size limit).
      return { [`${prefix}/index.m3u8`]: keys['index.m3u8']! };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
