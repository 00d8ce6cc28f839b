import { readFileSync } from 'node:fs';

/**
 * CPU seconds from a /proc stat file (a process's `/proc/PID/stat`, or one thread's
 * `/proc/PID/task/TID/stat`): utime + stime, and with `children` its reaped children's as well. Linux
 * counts them in clock ticks, 100 a second.
 */
export function statCpuSeconds(path: string, children = false): number {
  const stat = readFileSync(path, 'utf8');
  // The fields after the command name, which stands in parentheses and may hold spaces: utime is the 12th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (children ? [11, 12, 13, 14] : [11, 12]).reduce((sum, i) => sum + Number(fields[i]), 0) / 100;
}
