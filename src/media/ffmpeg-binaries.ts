import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';

export interface FfmpegBinaries {
  readonly ffmpeg: string;
  readonly ffprobe: string;
}

type BinaryEnv = Partial<Record<'FFMPEG_PATH' | 'FFPROBE_PATH' | 'PATH', string>>;

const require = createRequire(import.meta.url);

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The installer packages export `{ path }`; they throw on a platform they have no binary for. */
function bundled(pkg: '@ffmpeg-installer/ffmpeg' | '@ffprobe-installer/ffprobe'): string | undefined {
  try {
    const { path } = require(pkg) as { path: string };
    return isExecutable(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

function resolveOne(name: 'ffmpeg' | 'ffprobe', explicit: string | undefined, pathVar: string | undefined): string {
  const variable = name === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH';
  if (explicit) {
    // An explicit setting that does not work is an operator error, not a reason to fall back silently.
    if (!isExecutable(explicit)) throw new Error(`${variable}: ${explicit} is not an executable file`);
    return explicit;
  }
  const found = onPath(name, pathVar) ?? bundled(name === 'ffmpeg' ? '@ffmpeg-installer/ffmpeg' : '@ffprobe-installer/ffprobe');
  if (!found) throw new Error(`${name} not found: set ${variable}, put ${name} on PATH, or install the bundled package (npm ci)`);
  return found;
}

/**
 * Contract section 2: `FFMPEG_PATH`/`FFPROBE_PATH`, else the binaries on PATH (Debian's in the image and on
 * CI), else the npm-bundled static builds, so `npm ci` alone gives a working setup. Checked up front because
 * a missing binary must fail at start-up, not as a spawn error inside a job.
 */
export function resolveFfmpegBinaries(env: BinaryEnv): FfmpegBinaries {
  return {
    ffmpeg: resolveOne('ffmpeg', env.FFMPEG_PATH, env.PATH),
    ffprobe: resolveOne('ffprobe', env.FFPROBE_PATH, env.PATH),
  };
}
