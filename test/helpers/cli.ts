import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const cliEntry = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const baseEnv = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

/** Runs `stageline ARGS` from source to completion. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', cliEntry, ...args], { env: { ...baseEnv, ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err && typeof err.code === 'number' ? err.code : err ? null : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a long-running `stageline ARGS` (worker, local). */
export function spawnCli(args: string[], env: Record<string, string>): { proc: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', cliEntry, ...args], { env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  proc.stdout?.resume();
  return { proc, stderr: () => err, exit: once(proc, 'exit').then(([code]) => code as number | null) };
}
