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
