import { parseArgs } from 'node:util';
import { createAwsClients } from '../aws/clients.js';
import { ConfigError, loadConfig, requireBucket } from '../contract/env.js';
import { createLogger } from '../daemon/logger.js';
import { startEmulator } from './emulator.js';
import { JobStatusStore } from '../pipeline/job-status.js';
import { JobKind } from '../contract/job.js';
import { jobPrefix } from '../contract/job-keys.js';
import { StageName } from '../contract/stages.js';
import { ObjectStore } from '../storage/object-store.js';
import { z } from 'zod';
import { cancel } from './commands/cancel.js';
import { reindex, runDashboard, startLocalDashboard } from './commands/dashboard.js';
import { dlq } from './commands/dlq.js';
import { schedulesCommand } from './commands/schedules.js';
import { submit } from './commands/submit.js';
import { runWorker } from './commands/worker.js';
import { formatStatus } from './format.js';

const usage = `usage: stageline <command>
  worker                         run the daemon (polls the queues in STAGES until SIGTERM)
  local                          embedded SQS+S3 emulator on LOCAL_PORT (4566) plus the worker and the dashboard
  dashboard [--reindex]          the web dashboard on DASHBOARD_HOST:DASHBOARD_PORT (127.0.0.1:8081); actions need DASHBOARD_TOKEN;
                                 --reindex writes the job index from every status.json, then exits
  submit FILE [--kind audio|csv|video] [--schema SCHEMA.json] [--at ISO-TIME | --in SECONDS] [--unique [KEY]] [--wait]
  cancel JOBID                   cancel a scheduled job (one that has not started)
  status JOBID [--json]
  dlq STAGE [--redrive]
  schedules [--json]             the periodic schedules of SCHEDULES_FILE with their last and next run
  healthcheck                    exit 0 when the worker on HTTP_PORT answers /healthz with 200, 1 when not, 2 for a bad HTTP_PORT`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'worker': {
      const config = loadConfig();
      await runWorker(config, createLogger(config.LOG_LEVEL));
      return -1; // keeps running until a signal
    }
    case 'local': {
      const port = Number(process.env.LOCAL_PORT ?? 4566);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`LOCAL_PORT: not a port (got ${JSON.stringify(process.env.LOCAL_PORT)})`);
      const emulator = await startEmulator({ port });
      Object.assign(process.env, emulator.env);
      const config = loadConfig();
      const logger = createLogger(config.LOG_LEVEL);
      const { dashboard, banner } = await startLocalDashboard(config, logger);
      process.stderr.write(
        `stageline local: emulator at ${emulator.endpoint}, ${banner}. In another shell:\n` +
          Object.entries(emulator.env).map(([k, v]) => `  export ${k}=${v}`).join('\n') +
          '\n  stageline submit FILE --wait\n',
      );
      await runWorker(config, logger, { onStopped: async () => void (await Promise.all([dashboard?.close(), emulator.stop()])) });
      return -1;
    }
    case 'dashboard': {
      const { values } = parseArgs({ args: rest, options: { reindex: { type: 'boolean', default: false } } });
      const config = loadConfig();
      if (values.reindex) return reindex(config, (line) => process.stdout.write(line + '\n'));
      await runDashboard(config, createLogger(config.LOG_LEVEL), (line) => process.stderr.write(line + '\n'));
      return -1; // serves until a signal
    }
    case 'submit': {
      const { args, unique } = takeUnique(rest);
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: { kind: { type: 'string' }, schema: { type: 'string' }, at: { type: 'string' }, in: { type: 'string' }, wait: { type: 'boolean', default: false } },
      });
      const file = positionals[0];
      if (!file) throw new UsageError('submit needs FILE');
      if (positionals.length > 1) throw new UsageError(`submit takes one FILE (got also ${positionals.slice(1).join(' ')})`);
      const kind = values.kind === undefined ? undefined : JobKind.parse(values.kind);
      if (values.at !== undefined && values.in !== undefined) throw new UsageError('give --at or --in, not both');
      if (values.at !== undefined && !z.iso.datetime({ offset: true }).safeParse(values.at).success) {
        throw new UsageError(`--at needs an ISO time with a zone, e.g. 2026-12-03T18:00:00Z (got ${values.at})`);
      }
      const delaySeconds = values.in === undefined ? undefined : Number(values.in);
      if (delaySeconds !== undefined && !(Number.isFinite(delaySeconds) && delaySeconds >= 0)) throw new UsageError(`--in needs seconds, 0 or more (got ${values.in})`);
      const result = await submit(loadConfig(), {
        file,
        wait: values.wait ?? false,
        ...(kind ? { kind } : {}),
        ...(values.schema ? { schemaFile: values.schema } : {}),
        ...(values.at !== undefined ? { runAt: values.at } : {}),
        ...(delaySeconds !== undefined ? { delaySeconds } : {}),
        ...(unique ? { unique } : {}),
      });
      return result.exitCode;
    }
    case 'cancel': {
      const jobId = rest[0];
      if (!jobId || rest.length > 1) throw new UsageError('cancel needs one JOBID');
      return cancel(loadConfig(), jobId, (line) => process.stdout.write(line + '\n'), (line) => process.stderr.write(line + '\n'));
    }
    case 'status': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
      const jobId = positionals[0];
      if (!jobId) throw new UsageError('status needs JOBID');
      const config = loadConfig();
      const store = new ObjectStore(createAwsClients(config).s3, requireBucket(config));
      const status = await new JobStatusStore(store).get(jobId);
      if (!status) {
        process.stderr.write(`no job ${jobId} in s3://${store.bucket}/${jobPrefix(jobId)}\n`);
        return 1;
      }
      process.stdout.write((values.json ? JSON.stringify(status, null, 2) : formatStatus(status, store.bucket)) + '\n');
      return 0;
    }
    case 'dlq': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { redrive: { type: 'boolean', default: false } } });
      const stage = StageName.safeParse(positionals[0]);
      if (!stage.success) throw new UsageError('dlq needs STAGE: ingestion, validation or analysis');
      const config = loadConfig();
      const entries = await dlq(createAwsClients(config).sqs, config, stage.data, values.redrive ?? false);
      for (const e of entries) {
        process.stdout.write(`${e.messageId}  sent ${e.sentAt}  received ${e.receiveCount}x${e.reason ? `  reason: ${e.reason}` : ''}\n  ${e.body.slice(0, 300)}\n`);
      }
      process.stdout.write(`${entries.length} message(s) ${values.redrive ? 'moved back to the ' + stage.data + ' queue' : 'in the ' + stage.data + ' dead-letter queue'}\n`);
      return 0;
    }
    case 'schedules': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false } } });
      return schedulesCommand(loadConfig(), values.json ?? false, (text) => process.stdout.write(text + '\n'));
    }
    case 'healthcheck': {
      // bin/stageline.js answers this before loading this module; here for `tsx src/cli/main.ts healthcheck`.
      const { runHealthcheck } = await import('./healthcheck.js');
      return runHealthcheck(process.env);
    }
    default:
      throw new UsageError(command ? `unknown command: ${command}` : 'no command given');
  }
}

class UsageError extends Error {}

/**
 * `--unique [KEY]`: the key is optional, which parseArgs cannot express. `--unique=KEY`, or `--unique KEY`
 * once FILE has been given (so `submit --unique FILE` stays a unique job over FILE with the default key).
 */
function takeUnique(args: string[]): { args: string[]; unique?: { key?: string } } {
  const at = args.findIndex((a) => a === '--unique' || a.startsWith('--unique='));
  if (at < 0) return { args };
  const flag = args[at] ?? '';
  const rest = [...args.slice(0, at), ...args.slice(at + 1)];
  if (flag.startsWith('--unique=')) return { args: rest, unique: { key: flag.slice('--unique='.length) } };
  const next = args[at + 1];
  const fileGiven = args.slice(0, at).some((a, i, all) => !a.startsWith('-') && !(i > 0 && /^--(kind|schema|at|in)$/.test(all[i - 1] ?? '')));
  if (next !== undefined && !next.startsWith('-') && fileGiven) return { args: [...args.slice(0, at), ...args.slice(at + 2)], unique: { key: next } };
  return { args: rest, unique: {} };
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof UsageError) process.stderr.write(`${err.message}\n${usage}\n`);
    else if (err instanceof ConfigError) process.stderr.write(`stageline: configuration error: ${err.message}\n`);
    else process.stderr.write(`stageline: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
