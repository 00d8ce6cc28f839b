import { ffmpegMake } from './audio-media.js';

export interface ClipOptions {
  seconds?: number;
  width?: number;
  height?: number;
  fps?: number;
  /** A 440 Hz tone as an AAC track; false: video only. */
  audio?: boolean;
  /** Seconds of black before the test pattern starts. */
  blackSeconds?: number;
  /** The `rotate` tag, written into the container as a display matrix (a phone held upright: the picture shows portrait). */
  rotation?: 0 | 90 | 180 | 270;
  /** Container by extension: .mp4, .mov, .mkv, .webm. */
  name: string;
}

/**
 * A test clip made by ffmpeg from lavfi sources: a moving test pattern (testsrc2) at the given size
 * and rate, optionally after black and with a tone, H.264 (VP9 + Opus for .webm). Works with the npm
 * bundled ffmpeg (2018) and Debian's 5.1.
 */
export async function makeClip(dir: string, options: ClipOptions): Promise<string> {
  const { seconds = 6, width = 640, height = 360, fps = 25, audio = true, blackSeconds = 0, rotation = 0, name } = options;
  const pattern = `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`;
  const video = blackSeconds > 0
    ? ['-f', 'lavfi', '-i', `${pattern},drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='lt(t,${blackSeconds})'`]
    : ['-f', 'lavfi', '-i', pattern];
  const tone = audio ? ['-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}:sample_rate=48000`] : [];
  const webm = name.endsWith('.webm');
  const codecs = webm
    ? ['-c:v', 'libvpx-vp9', '-b:v', '300k', '-deadline', 'realtime', '-cpu-used', '8', ...(audio ? ['-c:a', 'libopus'] : [])]
    : ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', ...(audio ? ['-c:a', 'aac', '-b:a', '96k'] : [])];
  if (!rotation) return ffmpegMake(dir, name, [...video, ...tone, ...codecs, '-shortest']);
  // The rotate tag becomes a display matrix only on a stream copy (ffmpeg 5.1 has no -display_rotation).
  const upright = await ffmpegMake(dir, `upright-${name}`, [...video, ...tone, ...codecs, '-shortest']);
  return ffmpegMake(dir, name, ['-i', upright, '-c', 'copy', '-metadata:s:v:0', `rotate=${rotation}`]);
}

/** An MP4 in name only: an `ftyp` box followed by noise, as a damaged or fake upload is. */
export function corruptMp4(): Buffer {
  const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.from([0, 0, 2, 0]), Buffer.from('isomiso2')]);
  const noise = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 2654435761) % 251));
  return Buffer.concat([ftyp, noise]);
}
