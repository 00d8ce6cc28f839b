import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';
import { resolveFfmpegBinaries } from '../../src/media/ffmpeg-binaries.js';

const run = promisify(execFile);
export const binaries = resolveFfmpegBinaries(process.env);

/** Runs ffmpeg with lavfi sources (or any arguments) to make test media; returns the output path. */
export async function ffmpegMake(dir: string, name: string, args: string[]): Promise<string> {
  const out = join(dir, name);
  await run(binaries.ffmpeg, ['-nostdin', '-hide_banner', '-loglevel', 'error', ...args, '-y', out]);
  return out;
}

/**
 * Stereo: 220 Hz left, 330 Hz right, at 0.8 of the sine source's level, with silence from 3.5 s to 4.5 s
 * (the same shape as the demo's sample).
 */
export function chordWithGap(dir: string, name: string, seconds = 8, codecArgs: string[] = ['-c:a', 'pcm_s16le']): Promise<string> {
  return ffmpegMake(dir, name, [
    '-f', 'lavfi', '-i', `sine=frequency=220:duration=${seconds}:sample_rate=44100`,
    '-f', 'lavfi', '-i', `sine=frequency=330:duration=${seconds}:sample_rate=44100`,
    '-filter_complex', "[0][1]join=inputs=2:channel_layout=stereo,volume='if(between(t,3.5,4.5),0,0.8)':eval=frame",
    ...codecArgs,
  ]);
}

const speechClip = fileURLToPath(new URL('../fixtures/speech.mp3', import.meta.url));

/**
 * Speech as eSpeak NG makes it (mono, 22.05 kHz WAV), from a committed 15 KB clip so the tests need no
 * text-to-speech tool: "The quick brown fox jumps over the lazy dog. Then it rests." (3.5 s, MP3 32 kb/s),
 * decoded by the bundled ffmpeg.
 */
export function speech(dir: string, name: string): Promise<string> {
  return ffmpegMake(dir, name, ['-i', speechClip, '-ac', '1', '-ar', '22050', '-c:a', 'pcm_s16le']);
}

const Probe = z.looseObject({
  format: z.looseObject({ format_name: z.string(), duration: z.coerce.number().optional(), bit_rate: z.coerce.number().optional() }),
  streams: z.array(z.looseObject({ codec_type: z.string(), codec_name: z.string(), sample_rate: z.coerce.number().optional(), channels: z.number().optional(), duration: z.coerce.number().optional() })),
});

/** ffprobe as an independent check of an output file. */
export async function probe(path: string): Promise<z.infer<typeof Probe>> {
  const { stdout } = await run(binaries.ffprobe, ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path]);
  return Probe.parse(JSON.parse(stdout));
}

/**
 * ffprobe of an MPEG-TS file's audio track, copied into Matroska first: the bundled ffprobe (a 2023
 * static build) crashes on MPEG-TS input.
 */
export async function probeTransportStream(path: string): Promise<z.infer<typeof Probe>> {
  const copy = `${path}.mka`;
  await run(binaries.ffmpeg, ['-nostdin', '-loglevel', 'error', '-i', path, '-map', '0:a:0', '-c', 'copy', '-f', 'matroska', '-y', copy]);
  return probe(copy);
}

/** Exact decoded length in seconds (ffmpeg decodes the file; the container's figure may be an estimate). */
export async function decodedSeconds(path: string, extra: string[] = []): Promise<number> {
  const { stderr } = await run(binaries.ffmpeg, ['-nostdin', '-hide_banner', '-nostats', '-loglevel', 'error', '-progress', 'pipe:2', ...extra, '-i', path, '-map', '0:a:0', '-f', 'null', '-']);
  const times = [...stderr.matchAll(/out_time_us=(\d+)/g)].map((m) => Number(m[1]));
  return (times.at(-1) ?? 0) / 1e6;
}

/** 8-bit audiowaveform peaks computed the obvious way, to check the streaming implementation against. */
export function referencePeaks(samples: Int16Array, channels: number, spp: number): number[] {
  const out: number[] = [];
  const frames = samples.length / channels;
  for (let start = 0; start < frames; start += spp) {
    for (let c = 0; c < channels; c++) {
      let min = Infinity;
      let max = -Infinity;
      for (let f = start; f < Math.min(frames, start + spp); f++) {
        const v = samples[f * channels + c] as number;
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      out.push(Math.floor(min / 256), Math.floor(max / 256));
    }
  }
  return out;
}

/** The file decoded by ffmpeg to interleaved s16le, at most stereo, for independent checks. */
export async function decodePcm(path: string, channels: 1 | 2): Promise<Int16Array> {
  const { stdout } = await promisify(execFile)(binaries.ffmpeg, ['-nostdin', '-loglevel', 'error', '-i', path, '-map', '0:a:0', '-ac', String(channels), '-f', 's16le', '-'], {
    encoding: 'buffer',
    maxBuffer: 256 * 1024 * 1024,
  });
  const copy = Buffer.from(stdout);
  return new Int16Array(copy.buffer, copy.byteOffset, copy.length / 2);
}
