import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { binaries } from './audio-media.js';

/**
 * A stand-in for ffmpeg/ffprobe that ignores SIGTERM and never finishes, recording its pid and each
 * SIGTERM it receives in `log`. Capability queries (fluent-ffmpeg asks `-formats`, `-encoders`, …
 * before a run) are passed to the real ffmpeg.
 */
export async function stubbornTool(dir: string, name: string): Promise<{ path: string; log: string }> {
  const path = join(dir, name);
  const log = join(dir, `${name}.log`);
  await writeFile(
    path,
    `#!/bin/sh
case "$1" in -formats|-encoders|-codecs|-filters) exec ${JSON.stringify(binaries.ffmpeg)} "$@";; esac
echo "pid $$" >> ${JSON.stringify(log)}
trap 'echo TERM >> ${JSON.stringify(log)}' TERM
while :; do sleep 0.02; done
`,
  );
  await chmod(path, 0o755);
  return { path, log };
}

/** True while a process with this pid exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A stand-in for ffmpeg/ffprobe that dies of `signal` sent to itself (SIGABRT is what a failed assertion in a
 * filter does), except for capability queries, and for runs whose arguments do not match `when`, which the
 * real tool serves.
 */
export async function signallingTool(dir: string, name: string, signal: NodeJS.Signals, when = ''): Promise<string> {
  const path = join(dir, name);
  const real = name.includes('ffprobe') ? binaries.ffprobe : binaries.ffmpeg;
  await writeFile(
    path,
    `#!/bin/sh
case "$1" in -formats|-encoders|-codecs|-filters) exec ${JSON.stringify(real)} "$@";; esac
case "$*" in *${JSON.stringify(when)}*) kill -s ${signal.replace(/^SIG/, '')} $$;; esac
exec ${JSON.stringify(real)} "$@"
`,
  );
  await chmod(path, 0o755);
  return path;
}
