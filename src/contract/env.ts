import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { StageName, stageNames } from './stages.js';
import { defaultHttpPort } from './defaults.js';
import { isOutputKey, outputsPrefix } from './job-keys.js';

const cores = availableParallelism();
const optionalUrl = z.url().optional();
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const emptyAsUndefined = (v: unknown) => (v === '' ? undefined : v);
const commaList = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

/**
 * The whole process configuration, from the environment (contract section 2). One schema is both the
 * runtime check and the type; `loadConfig` turns the first problem into one line naming the variable.
 */
export const EnvSchema = z.object({
  AWS_REGION: z.string().min(1).default('us-east-1'),
  AWS_ENDPOINT_URL: optionalUrl,
  S3_BUCKET: z.string().min(3).optional(),
  SQS_INGESTION_QUEUE_URL: optionalUrl,
  SQS_VALIDATION_QUEUE_URL: optionalUrl,
  SQS_ANALYSIS_QUEUE_URL: optionalUrl,
  SQS_EVENTS_QUEUE_URL: optionalUrl,
  STAGES: z
    .string()
    .default(stageNames.join(','))
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(StageName).min(1, 'name at least one stage')),
  // Ingestion is I/O-bound (a ranged GET and a send); validation and analysis run parsers and ffmpeg.
  INGESTION_CONCURRENCY: positiveInt(16),
  VALIDATION_CONCURRENCY: positiveInt(cores),
  ANALYSIS_CONCURRENCY: positiveInt(cores),
  // Checker threads one CSV validation runs besides its reader. Node's core count can exceed a container's CPU quota.
  CSV_THREADS: z.coerce.number().int().min(1).max(16).default(Math.min(cores, 4)),
  // Bounds on a CSV job's Table Schema (src/tasks/csv/schema/schema-limits.ts): over any, CSV_SCHEMA_TOO_LARGE.
  // Every checker thread compiles the schema within a 48 MB heap; fields beyond the 2,000 columns a header may have match nothing.
  CSV_SCHEMA_MAX_BYTES: positiveInt(1024 * 1024),
  CSV_SCHEMA_MAX_FIELDS: positiveInt(2000),
  CSV_SCHEMA_MAX_ENUM_VALUES: positiveInt(100_000),
  CSV_SCHEMA_MAX_PATTERN_LENGTH: positiveInt(1000),
  // RE2 instructions of all patterns together (a{1000} is 1,000): checking a character costs up to this many steps.
  CSV_SCHEMA_MAX_PATTERN_SIZE: positiveInt(10_000),
  // Heap of the checker thread holding a `unique` constraint's values; past it the job fails with CSV_MEMORY_LIMIT.
  CSV_UNIQUE_HEAP_MB: z.coerce.number().int().min(16).default(512),
  DRAIN_TIMEOUT_SECONDS: z.coerce.number().min(0).max(3600).default(25),
  // How long a received message stays invisible between heartbeats; a crashed worker's jobs come back after this.
  VISIBILITY_TIMEOUT_SECONDS: z.coerce.number().int().min(5).max(43200).default(60),
  // Audio input limits (docs/audio.md): from the WAV header and ffprobe before any decode, the length again on
  // the decoded stream. 44.1 and 48 kHz always pass (the bounds cannot cross them); ffmpeg mixes down any count
  // of channels up to 8 (beyond, only files naming a channel layout).
  AUDIO_MAX_DURATION_SECONDS: positiveInt(3 * 3600),
  AUDIO_MIN_SAMPLE_RATE: z.coerce.number().int().min(1).max(44100).default(8000),
  AUDIO_MAX_SAMPLE_RATE: z.coerce.number().int().min(48000).max(768000).default(384000),
  AUDIO_MAX_CHANNELS: z.coerce.number().int().min(1).max(8).default(8),
  AUDIO_PROBE_TIMEOUT_SECONDS: positiveInt(30),
  // Each ffmpeg run over an upload may take AUDIO_RUN_TIMEOUT_SECONDS + AUDIO_RUN_TIMEOUT_RATIO × the audio's length.
  AUDIO_RUN_TIMEOUT_SECONDS: positiveInt(60),
  AUDIO_RUN_TIMEOUT_RATIO: z.coerce.number().positive().max(10).default(0.1),
  // Video input limits (docs/video.md): from ffprobe before any decode; over one, the job fails with a VIDEO_ code.
  VIDEO_MAX_DURATION_SECONDS: positiveInt(3 * 3600),
  // Width × height of the displayed picture: 4096 × 2304 covers UHD and DCI 4K.
  VIDEO_MAX_PIXELS: positiveInt(4096 * 2304),
  VIDEO_MAX_FRAME_RATE: positiveInt(120),
  // Frames in the whole video: 3 h at 60 fps.
  VIDEO_MAX_FRAMES: positiveInt(3 * 3600 * 60),
  VIDEO_PROBE_TIMEOUT_SECONDS: positiveInt(60),
  // Each ffmpeg run over a video may take VIDEO_RUN_TIMEOUT_SECONDS + VIDEO_RUN_TIMEOUT_RATIO × the video's length.
  VIDEO_RUN_TIMEOUT_SECONDS: positiveInt(120),
  VIDEO_RUN_TIMEOUT_RATIO: z.coerce.number().positive().max(100).default(10),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(defaultHttpPort),
  SENTRY_DSN: optionalUrl,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  FFMPEG_PATH: z.string().min(1).optional(),
  // Set by ECS on every task: where scale-in protection is requested while jobs are in flight.
  ECS_AGENT_URI: optionalUrl,
  FFPROBE_PATH: z.string().min(1).optional(),
  // What a job may read (src/storage/input-scope.ts). INPUT_BUCKETS unset means S3_BUCKET alone.
  INPUT_BUCKETS: z.string().transform(commaList).pipe(z.array(z.string().min(3)).min(1, 'name at least one bucket')).optional(),
  INPUT_PREFIXES: z
    .string()
    .default('uploads/,incoming/')
    .transform(commaList)
    .pipe(z.array(z.string().refine((p) => !isOutputKey(p), `${outputsPrefix} holds the outputs and is never input`)).min(1, 'name at least one prefix')),
  // The largest input, from HeadObject before any download: 3 h of 16-bit 48 kHz stereo WAV (1.9 GiB) fit.
  MAX_INPUT_BYTES: positiveInt(2 * 1024 ** 3),
  // A stage queue without a DLQ retries a poison message for ever: refused unless an operator says otherwise.
  ALLOW_NO_REDRIVE: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('false')
    .transform((v) => v === 'true'),
  // Periodic schedules (contract section 7, docs/schedules.md): a YAML or JSON file, validated at start-up.
  SCHEDULES_FILE: z.string().min(1).optional(),
  // The dashboard (contract section 8, docs/dashboard.md): loopback unless told otherwise; without a token it is read-only.
  DASHBOARD_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
  DASHBOARD_HOST: z.string().min(1).default('127.0.0.1'),
  DASHBOARD_TOKEN: z.string().min(1).optional(),
});
export type Config = z.infer<typeof EnvSchema>;

/** Every variable's default, from the schema: code that runs without a configuration takes its defaults here. */
export const envDefaults: Config = EnvSchema.parse({});

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const queueVar = {
  ingestion: 'SQS_INGESTION_QUEUE_URL',
  validation: 'SQS_VALIDATION_QUEUE_URL',
  analysis: 'SQS_ANALYSIS_QUEUE_URL',
} as const satisfies Record<StageName, keyof Config>;

export const concurrencyVar = {
  ingestion: 'INGESTION_CONCURRENCY',
  validation: 'VALIDATION_CONCURRENCY',
  analysis: 'ANALYSIS_CONCURRENCY',
} as const satisfies Record<StageName, keyof Config>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input = Object.fromEntries(
    Object.keys(EnvSchema.shape).map((k) => [k, emptyAsUndefined(env[k])]),
  );
  const parsed = EnvSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? 'environment');
    const shown = name in input && !/DSN|SECRET|TOKEN/.test(name) ? ` (got ${JSON.stringify(input[name])})` : '';
    throw new ConfigError(`${name}: ${issue?.message ?? 'invalid'}${shown}`);
  }
  return parsed.data;
}

export function queueUrlFor(config: Config, stage: StageName): string {
  const url = config[queueVar[stage]];
  if (!url) throw new ConfigError(`${queueVar[stage]}: required to run or feed the ${stage} stage`);
  return url;
}

export function requireBucket(config: Config): string {
  if (!config.S3_BUCKET) throw new ConfigError('S3_BUCKET: required');
  return config.S3_BUCKET;
}
