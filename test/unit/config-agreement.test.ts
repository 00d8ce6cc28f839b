import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { EnvSchema, envDefaults } from '../../src/contract/env.js';
import { startEmulator, type Emulator } from '../../src/cli/emulator.js';
import { stageNames } from '../../src/contract/stages.js';

// The configuration surface is written down in several places; this test keeps them saying the same thing.
const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const schemaVars = new Set(Object.keys(EnvSchema.shape));
/** The AWS SDK's own credential variables: set in compose for the emulators, never parsed by stageline. */
const sdkCredentialVars = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
const queueUrlVars = ['SQS_INGESTION_QUEUE_URL', 'SQS_VALIDATION_QUEUE_URL', 'SQS_ANALYSIS_QUEUE_URL', 'SQS_EVENTS_QUEUE_URL'] as const;

/** Compose's `${NAME:-default}` with every variable unset, as a fresh checkout runs it. */
const withComposeDefaults = (value: string) => value.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');
const queueName = (url: string) => url.split('/').pop() ?? url;

/** The rows of the README's `## Configuration` table: the names of the first column and the default column. */
function readmeConfigurationRows(): { names: string[]; defaults: string }[] {
  const readme = read('README.md');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Configuration'));
  assert.ok(section, 'README.md has a "## Configuration" section');
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const cells = line.split(' | ');
      return { names: [...(cells[0] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1] ?? ''), defaults: cells.at(-1) ?? '' };
    });
}
const readmeConfigurationVars = () => new Set(readmeConfigurationRows().flatMap((r) => r.names));

/** Defaults that follow the machine (its core count): the README says so in words. */
const machineDefaults = new Set(['VALIDATION_CONCURRENCY', 'ANALYSIS_CONCURRENCY', 'CSV_THREADS']);
const shown = (value: unknown) => (Array.isArray(value) ? value.join(',') : String(value));

const ComposeFile = z.object({
  services: z.record(
    z.string(),
    z.object({
      build: z.unknown().optional(),
      environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).default({}),
      volumes: z.array(z.string()).default([]),
    }),
  ),
});
const compose = ComposeFile.parse(parseYaml(read('docker-compose.yml'), { merge: true }));
const env = (service: string) => Object.fromEntries(Object.entries(compose.services[service]?.environment ?? {}).map(([k, v]) => [k, withComposeDefaults(String(v ?? ''))]));
const workerServices = Object.keys(compose.services).filter((name) => compose.services[name]?.build !== undefined);

const initScriptPath = 'localstack/ready.d/init-stageline.sh';
const initScript = read(initScriptPath);
/** `NAME="${NAME:-default}"` assignments: the script's settings and their defaults. */
const initDefaults = Object.fromEntries([...initScript.matchAll(/^([A-Z][A-Z0-9_]*)="\$\{\1:-([^}]*)\}"/gm)].map((m) => [m[1], m[2]]));
/** `echo "NAME=…"` lines: the worker environment it prints. */
const initPrints = [...initScript.matchAll(/^echo "([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] ?? '');

describe('configuration agrees across the schema, README, compose, the init script and the emulator', () => {
  let emulator: Emulator;
  let reference: { bucket: string; queues: string[]; maxReceiveCount: number; visibilityTimeout: string };
  before(async () => {
    emulator = await startEmulator();
    const sqs = new SQSClient({ region: 'us-east-1', endpoint: emulator.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: emulator.queues.ingestion.url, AttributeNames: ['All'] }))).Attributes ?? {};
    reference = {
      bucket: emulator.bucket,
      queues: stageNames.flatMap((s) => [queueName(emulator.queues[s].url), queueName(emulator.queues[s].dlqUrl)]).concat(queueName(emulator.eventsQueueUrl)),
      maxReceiveCount: z.object({ maxReceiveCount: z.coerce.number() }).parse(JSON.parse(attrs.RedrivePolicy ?? '{}')).maxReceiveCount,
      visibilityTimeout: attrs.VisibilityTimeout ?? '',
    };
  });
  after(() => emulator?.stop());

  it('the README documents every variable of the schema, and nothing the code does not read', () => {
    const documented = readmeConfigurationVars();
    const undocumented = [...schemaVars].filter((v) => !documented.has(v));
    assert.deepEqual(undocumented, [], `README.md "## Configuration" lacks: ${undocumented.join(', ')}`);
    // A documented variable outside the schema must still be read somewhere (e.g. LOCAL_PORT by `stageline local`).
    const sources = readdirSync(new URL('src/', root), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => read(`src/${f}`))
      .join('\n');
    for (const name of documented) {
      if (!schemaVars.has(name)) assert.match(sources, new RegExp(`process\\.env\\.${name}\\b`), `README documents ${name}, which nothing reads`);
    }
  });

  it('the README gives each variable the default the schema has, in the order it names them', () => {
    const defaults: Record<string, unknown> = envDefaults;
    for (const { names, defaults: cell } of readmeConfigurationRows()) {
      const expected = names.filter((n) => schemaVars.has(n) && !machineDefaults.has(n) && defaults[n] !== undefined).map((n) => shown(defaults[n]));
      const written = [...cell.matchAll(/`([^`]*)`/g)].map((m) => m[1]);
      assert.deepEqual(written.slice(0, expected.length), expected, `README default of ${names.join(', ')}: ${cell}`);
      for (const n of names.filter((x) => machineDefaults.has(x))) assert.match(cell, /core count/, `README default of ${n}`);
    }
  });

  it('the embedded emulator hands out only schema variables', () => {
    const extra = Object.keys(emulator.env).filter((k) => !schemaVars.has(k) && !sdkCredentialVars.has(k));
    assert.deepEqual(extra, []);
  });

  it('compose gives each worker only schema variables, a valid configuration, and the emulator\'s names', () => {
    assert.ok(workerServices.length >= 2, 'a worker per emulator profile');
    for (const service of workerServices) {
      const vars = env(service);
      const unknown = Object.keys(vars).filter((k) => !schemaVars.has(k) && !sdkCredentialVars.has(k));
      assert.deepEqual(unknown, [], `${service} sets variables stageline does not read`);
      const config = EnvSchema.parse(Object.fromEntries(Object.entries(vars).filter(([, v]) => v !== '')));
      assert.equal(config.S3_BUCKET, reference.bucket, service);
      assert.deepEqual(
        queueUrlVars.map((v) => queueName(config[v] ?? '')),
        [...stageNames.map((s) => queueName(emulator.queues[s].url)), queueName(emulator.eventsQueueUrl)],
        service,
      );
      assert.ok(config.AWS_ENDPOINT_URL, `${service} talks to the emulator`);
    }
  });

  it('compose and the init script agree on the names the emulator uses', () => {
    assert.equal(initDefaults.S3_BUCKET, reference.bucket);
    assert.equal(initDefaults.QUEUE_PREFIX, 'stageline');
    assert.equal(Number(initDefaults.MAX_RECEIVE_COUNT), reference.maxReceiveCount);
    assert.equal(initDefaults.QUEUE_VISIBILITY_TIMEOUT, reference.visibilityTimeout);
    // The script builds its queue names from these suffixes; together they are the emulator's queues.
    const suffixes = [...initScript.matchAll(/"\$QUEUE_PREFIX-([a-z$-]+)"/g)].map((m) => m[1] ?? '');
    const scriptQueues = suffixes.flatMap((s) => (s.includes('$stage') ? stageNames.map((st) => s.replace('$stage', st)) : [s])).map((s) => `stageline-${s}`);
    assert.deepEqual([...new Set(scriptQueues)].sort(), [...reference.queues].sort());

    const emulatorSide = Object.keys(compose.services).filter((name) => compose.services[name]?.volumes.some((v) => v.startsWith(`./${initScriptPath.split('/').slice(0, 2).join('/')}`)));
    assert.ok(emulatorSide.length >= 2, 'both emulator profiles run the init script');
    for (const service of [...emulatorSide, ...workerServices]) {
      assert.equal(env(service).S3_BUCKET, initDefaults.S3_BUCKET, `${service} S3_BUCKET`);
    }
    for (const service of emulatorSide) assert.equal(env(service).QUEUE_PREFIX, initDefaults.QUEUE_PREFIX, `${service} QUEUE_PREFIX`);
  });

  it('what the init script prints is the worker\'s own variables', () => {
    assert.deepEqual(initPrints.sort(), ['S3_BUCKET', ...queueUrlVars].sort());
  });
});
