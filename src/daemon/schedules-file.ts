import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../contract/env.js';
import type { KindOptionSchema } from '../contract/job.js';
import { parseSchedulesFile, type Schedule } from '../contract/schedules.js';

/**
 * Reads `SCHEDULES_FILE`: JSON for `.json`, YAML for `.yaml`/`.yml`, otherwise JSON and then YAML.
 * Any problem is a ConfigError of one line naming the file (and the schedule and the field), so the
 * worker refuses to start on it.
 */
export async function loadSchedulesFile(path: string, kinds: readonly KindOptionSchema[]): Promise<Schedule[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`SCHEDULES_FILE ${path}: cannot read it (${code ?? (err instanceof Error ? err.message : String(err))})`);
  }
  return parseSchedulesFile(parseText(text, path), kinds, path).schedules;
}

function parseText(text: string, path: string): unknown {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return parse(() => JSON.parse(text) as unknown, 'JSON', path);
  if (ext === '.yaml' || ext === '.yml') return parse(() => parseYaml(text) as unknown, 'YAML', path);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return parse(() => parseYaml(text) as unknown, 'JSON or YAML', path);
  }
}

function parse(read: () => unknown, format: string, path: string): unknown {
  try {
    return read();
  } catch (err) {
    // The parsers' messages run over several lines (YAML quotes the text around the error): the first says where.
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0]?.replace(/:$/, '') ?? 'unreadable';
    // `cron: */5 * * * *` unquoted reads as a YAML alias.
    const hint = format !== 'JSON' && /alias/i.test(first) ? ' (quote a cron expression: cron: "*/5 * * * *")' : '';
    throw new ConfigError(`SCHEDULES_FILE ${path}: not valid ${format}: ${first}${hint}`);
  }
}
