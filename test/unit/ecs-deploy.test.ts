import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { z } from 'zod';
import { EnvSchema, queueVar } from '../../src/contract/env.js';
import { nextStage, stageNames, type StageName } from '../../src/contract/stages.js';
import { jobIndexKeys, jobKey } from '../../src/contract/job-keys.js';

// ecs/README.md deploys from templates that ecs/render.sh fills in. This renders them with values unlike
// any default and checks that every name one file uses is the name another file creates.
const root = fileURLToPath(new URL('../../', import.meta.url));
const ecsDir = join(root, 'ecs');
const readme = readFileSync(join(ecsDir, 'README.md'), 'utf8');
const renderScript = readFileSync(join(ecsDir, 'render.sh'), 'utf8');
const initScript = readFileSync(join(root, 'localstack/ready.d/init-stageline.sh'), 'utf8');
const initDefault = (name: string) => new RegExp(`^${name}="\\$\\{${name}:-([^}]*)\\}"`, 'm').exec(initScript)?.[1];

const values = {
  ACCOUNT_ID: '210987654321',
  REGION: 'ap-southeast-2',
  PREFIX: 'acme-media',
  BUCKET: 'acme-media-inbox-test',
  IMAGE: '210987654321.dkr.ecr.ap-southeast-2.amazonaws.com/acme-media:9.9.9',
  SUBNETS: 'subnet-0aa1,subnet-0bb2',
  SECURITY_GROUP: 'sg-0cc3',
  ASSIGN_PUBLIC_IP: 'DISABLED',
};
const { ACCOUNT_ID, REGION, PREFIX, BUCKET } = values;

function render(env: Record<string, string>, outDir: string) {
  return spawnSync('bash', [join(ecsDir, 'render.sh'), outDir], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
}

function listJson(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
    const path = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) return e.name === 'out' && !prefix ? [] : listJson(dir, path);
    return e.name.endsWith('.json') ? [path] : [];
  });
}

const out = mkdtempSync(join(tmpdir(), 'stageline-ecs-'));
const rendering = render(values, out);
const templates = listJson(ecsDir).sort();
const rendered = (path: string) => readFileSync(join(out, path), 'utf8');
function load<S extends z.ZodType>(path: string, schema: S): z.infer<S> {
  return schema.parse(JSON.parse(rendered(path)));
}

// --- the shapes read here (only the fields this test looks at) ---------------------------------------
const stringOrList = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));
const PolicyDocument = z.object({
  Version: z.literal('2012-10-17'),
  Statement: z.array(
    z.object({
      Effect: z.literal('Allow'),
      Principal: z.object({ Service: z.string() }).optional(),
      Action: stringOrList,
      Resource: stringOrList.optional(),
      Condition: z.record(z.string(), z.record(z.string(), z.string())).optional(),
    }),
  ),
});
type PolicyDocument = z.infer<typeof PolicyDocument>;
const QueueFile = z.object({ QueueName: z.string(), Attributes: z.record(z.string(), z.string()) });
const RedrivePolicy = z.object({ deadLetterTargetArn: z.string(), maxReceiveCount: z.coerce.number() });
const NameValue = z.object({ name: z.string(), value: z.string() });
const TaskDefinition = z.object({
  family: z.string(),
  executionRoleArn: z.string(),
  taskRoleArn: z.string(),
  containerDefinitions: z
    .array(
      z.object({
        image: z.string(),
        command: z.array(z.string()),
        stopTimeout: z.number(),
        environment: z.array(NameValue),
        secrets: z.array(z.object({ name: z.string() })).default([]),
        healthCheck: z.object({ command: z.array(z.string()) }),
        logConfiguration: z.object({ logDriver: z.literal('awslogs'), options: z.record(z.string(), z.string()) }),
      }),
    )
    .length(1),
});
const Service = z.object({
  cluster: z.string(),
  serviceName: z.string(),
  taskDefinition: z.string(),
  networkConfiguration: z.object({
    awsvpcConfiguration: z.object({ subnets: z.array(z.string()), securityGroups: z.array(z.string()), assignPublicIp: z.string() }),
  }),
});
const ScalableTarget = z.object({ ServiceNamespace: z.literal('ecs'), ResourceId: z.string(), ScalableDimension: z.string(), MinCapacity: z.number(), MaxCapacity: z.number() });
const Dimension = z.object({ Name: z.string(), Value: z.string() });
const ScalingPolicy = z.object({
  ResourceId: z.string(),
  ScalableDimension: z.string(),
  PolicyType: z.literal('TargetTrackingScaling'),
  TargetTrackingScalingPolicyConfiguration: z.object({
    TargetValue: z.number().positive(),
    CustomizedMetricSpecification: z.object({
      Metrics: z.array(
        z.object({
          Id: z.string(),
          ReturnData: z.boolean(),
          Expression: z.string().optional(),
          MetricStat: z.object({ Metric: z.object({ Namespace: z.string(), MetricName: z.string(), Dimensions: z.array(Dimension) }) }).optional(),
        }),
      ),
    }),
  }),
});
const Cluster = z.object({ clusterName: z.string(), settings: z.array(NameValue) });
const LogGroup = z.object({ logGroupName: z.string() });
const Retention = z.object({ logGroupName: z.string(), retentionInDays: z.number() });
const Notification = z.object({
  QueueConfigurations: z.array(
    z.object({ QueueArn: z.string(), Events: z.array(z.string()), Filter: z.object({ Key: z.object({ FilterRules: z.array(z.object({ Name: z.string(), Value: z.string() })) }) }) }),
  ),
});
const EcrRepository = z.object({ repositoryName: z.string() });

// --- IAM evaluation, as far as Allow statements go ----------------------------------------------------
const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
function allows(policy: PolicyDocument, action: string, resource: string): boolean {
  return policy.Statement.some((s) => s.Action.some((a) => glob(a).test(action)) && (s.Resource ?? []).some((r) => glob(r).test(resource)));
}
const resourcesOf = (policy: PolicyDocument) => policy.Statement.flatMap((s) => s.Resource ?? []);

// --- names --------------------------------------------------------------------------------------------
const queueArn = (name: string) => `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:${name}`;
const queueUrlPattern = new RegExp(`^https://sqs\\.${REGION}\\.amazonaws\\.com/${ACCOUNT_ID}/([A-Za-z0-9_-]+)$`);
const bucketArn = `arn:aws:s3:::${BUCKET}`;
const stageQueue = (stage: StageName) => load(`sqs/${stage}.json`, QueueFile);
const deadLetterArn = (stage: StageName) => RedrivePolicy.parse(JSON.parse(stageQueue(stage).Attributes.RedrivePolicy ?? '{}')).deadLetterTargetArn;
const createdQueues = () => templates.filter((t) => t.startsWith('sqs/') && !t.endsWith('-policy.json')).map((t) => load(t, QueueFile).QueueName);
const cluster = () => load('cluster.json', Cluster);
const logGroup = () => load('logs/log-group.json', LogGroup).logGroupName;
const taskDefinition = (stage: StageName) => load(`task-definitions/stageline-${stage}.json`, TaskDefinition);
const container = (stage: StageName) => taskDefinition(stage).containerDefinitions[0]!;
const environment = (stage: StageName) => Object.fromEntries(container(stage).environment.map((e) => [e.name, e.value]));
const sdkVars = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_DEFAULT_REGION', 'AWS_PROFILE', 'NODE_OPTIONS']);

const forEachStage = (text: string, placeholder: string) => (text.includes(placeholder) ? stageNames.map((s) => text.replaceAll(placeholder, s)) : [text]);
/** The README's shell with continuation lines joined and `$stage` loops expanded over the stages. */
const readmeCommands = readme
  .replace(/\s*\\\n\s*/g, ' ')
  .split('\n')
  .flatMap((line) => forEachStage(line, '$stage'));
/** Rendered files the README's commands read (`file://ecs/out/…` or a path given to jq). */
const readmeFiles = new Set(readmeCommands.flatMap((line) => [...line.matchAll(/\becs\/out\/([\w./-]+\.json)/g)].map((m) => m[1] ?? '')));
/** Templates the README's table of files names, such as `iam/stageline-<stage>-task-policy.json`. */
const readmeNamed = new Set(
  [...readme.matchAll(/^\| (.*?) \|/gm)]
    .flatMap((row) => [...(row[1] ?? '').matchAll(/`([\w./<>-]+\.json)`/g)])
    .flatMap((m) => forEachStage(m[1] ?? '', '<stage>')),
);
/** Roles the README creates, with the policy file it attaches to each. */
const readmeRoles = new Map<string, string | undefined>();
for (const line of readmeCommands) {
  const created = /aws iam create-role --role-name "\$PREFIX-([^"]+)" --assume-role-policy-document file:\/\/ecs\/out\/iam\/ecs-tasks-trust-policy\.json/.exec(line);
  if (created?.[1]) readmeRoles.set(created[1], readmeRoles.get(created[1]));
  const attached = /aws iam put-role-policy --role-name "\$PREFIX-([^"]+)" .*--policy-document file:\/\/ecs\/out\/(iam\/[^\s"]+)/.exec(line);
  if (attached?.[1] && readmeRoles.has(attached[1])) readmeRoles.set(attached[1], attached[2]);
}

describe('ECS: the deployment files of ecs/README.md agree with each other', () => {
  after(() => rmSync(out, { recursive: true, force: true }));

  it('render.sh fills every placeholder of every template, with nothing of another account left', () => {
    assert.equal(rendering.status, 0, rendering.stderr);
    const known = new Set([...renderScript.matchAll(/^check ([A-Z_]+) /gm)].map((m) => m[1]));
    assert.deepEqual([...known].sort(), Object.keys(values).sort(), 'render.sh checks the variables the README sets');
    for (const template of templates) {
      const text = readFileSync(join(ecsDir, template), 'utf8');
      JSON.parse(text);
      const unknown = [...text.matchAll(/\$\{([A-Za-z_]+)\}/g)].map((m) => m[1]).filter((p) => !known.has(p));
      assert.deepEqual(unknown, [], `${template} uses placeholders render.sh does not fill`);
      const output = rendered(template);
      JSON.parse(output);
      assert.doesNotMatch(output, /\$\{/, template);
      for (const [, region, account] of output.matchAll(/arn:aws:[a-z0-9-]+:([a-z0-9-]*):([0-9]*):/g)) {
        assert.ok(region === '' || region === REGION, `${template}: an ARN in region ${region}`);
        assert.ok(account === '' || account === ACCOUNT_ID, `${template}: an ARN of account ${account}`);
      }
      assert.deepEqual([...output.matchAll(/\b\d{12}\b/g)].map((m) => m[0]).filter((n) => n !== ACCOUNT_ID), [], `${template}: another account id`);
    }
  });

  it('render.sh refuses a missing or malformed variable, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stageline-ecs-bad-'));
    try {
      const { BUCKET: _bucket, ...withoutBucket } = values;
      const missing = render(withoutBucket, dir);
      assert.notEqual(missing.status, 0);
      assert.match(missing.stderr, /BUCKET is not set/);
      const malformed = render({ ...values, SUBNETS: 'subnet-0aa1 subnet-0bb2' }, dir);
      assert.notEqual(malformed.status, 0);
      assert.match(malformed.stderr, /SUBNETS=/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the README sets every variable render.sh needs and creates everything from the templates', () => {
    for (const name of Object.keys(values)) assert.match(readme, new RegExp(`(^|\\s)${name}=`, 'm'), `the README sets ${name}`);
    for (const loop of readme.matchAll(/for stage in ([a-z ]+); do/g)) assert.deepEqual(loop[1]?.trim().split(/\s+/), [...stageNames], 'loops over every stage');
    const missing = [...readmeFiles].filter((f) => !templates.includes(f));
    assert.deepEqual(missing, [], 'files the README reads that do not exist');
    assert.deepEqual([...readmeNamed].filter((f) => !templates.includes(f)), [], 'files the README names that do not exist');
    const unused = templates.filter((t) => !readmeFiles.has(t));
    assert.deepEqual(unused, [], 'templates the README never uses');
  });

  it('each stage queue dead-letters into its own DLQ after 5 receives, as the local init script does', () => {
    for (const stage of stageNames) {
      const queue = stageQueue(stage);
      const dlq = load(`sqs/${stage}-dlq.json`, QueueFile);
      assert.equal(queue.QueueName, `${PREFIX}-${stage}`);
      assert.equal(dlq.QueueName, `${PREFIX}-${stage}-dlq`);
      const redrive = RedrivePolicy.parse(JSON.parse(queue.Attributes.RedrivePolicy ?? '{}'));
      assert.equal(redrive.deadLetterTargetArn, queueArn(dlq.QueueName), `${stage} dead-letters into its own DLQ`);
      assert.equal(redrive.maxReceiveCount, 5, 'the outage guarantee assumes 5');
      assert.equal(redrive.maxReceiveCount, Number(initDefault('MAX_RECEIVE_COUNT')), 'as localstack/ready.d/init-stageline.sh');
      // A message keeps its first enqueue time in the DLQ: the DLQ must keep it longer than its source did.
      assert.ok(Number(dlq.Attributes.MessageRetentionPeriod) > Number(queue.Attributes.MessageRetentionPeriod ?? 345600), `${stage} DLQ retention`);
    }
    assert.deepEqual(createdQueues().sort(), [...stageNames.flatMap((s) => [`${PREFIX}-${s}`, `${PREFIX}-${s}-dlq`]), `${PREFIX}-events`].sort());
  });

  it('each task definition runs one stage with schema variables only, on queues, bucket and log group that are created', () => {
    const schemaVars = new Set(Object.keys(EnvSchema.shape));
    const queues = new Set(createdQueues());
    assert.deepEqual(templates.filter((t) => t.startsWith('task-definitions/')).sort(), stageNames.map((s) => `task-definitions/stageline-${s}.json`).sort());
    for (const stage of stageNames) {
      const def = taskDefinition(stage);
      const c = container(stage);
      const env = environment(stage);
      const names = [...Object.keys(env), ...c.secrets.map((s) => s.name)];
      assert.deepEqual(names.filter((n) => !schemaVars.has(n) && !sdkVars.has(n)), [], `${stage}: variables stageline does not read`);
      const config = EnvSchema.parse(env);
      assert.deepEqual(config.STAGES, [stage]);
      assert.equal(config.S3_BUCKET, BUCKET);
      assert.equal(config.AWS_REGION, REGION);
      assert.equal(config.ALLOW_NO_REDRIVE, false, 'a stage without a DLQ must stop the task');
      // Exactly the queues the stage uses: its own, the next stage's, the events queue.
      const next = nextStage(stage);
      const expected: Record<string, string> = { [queueVar[stage]]: `${PREFIX}-${stage}`, SQS_EVENTS_QUEUE_URL: `${PREFIX}-events` };
      if (next) expected[queueVar[next]] = `${PREFIX}-${next}`;
      const urls = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('SQS_')));
      assert.deepEqual(Object.keys(urls).sort(), Object.keys(expected).sort(), `${stage}: queue URL variables`);
      for (const [name, url] of Object.entries(urls)) {
        const queue = queueUrlPattern.exec(url)?.[1];
        assert.equal(queue, expected[name], `${stage}: ${name}=${url}`);
        assert.ok(queues.has(queue ?? ''), `${stage}: ${name} names a queue that is created`);
      }

      assert.equal(def.family, `${PREFIX}-${stage}`);
      assert.equal(c.image, values.IMAGE);
      assert.deepEqual(c.command, ['stageline', 'worker']);
      assert.deepEqual(c.healthCheck.command, ['CMD', 'stageline', 'healthcheck']);
      assert.equal(config.DRAIN_TIMEOUT_SECONDS, 25);
      assert.equal(c.stopTimeout, 30);
      assert.ok(c.stopTimeout >= config.DRAIN_TIMEOUT_SECONDS + 5, 'the worker exits within DRAIN_TIMEOUT_SECONDS + 5 s, before ECS kills it');
      assert.equal(c.logConfiguration.options['awslogs-group'], logGroup(), `${stage} logs to the log group that is created`);
      assert.equal(c.logConfiguration.options['awslogs-region'], REGION);
      assert.equal(c.logConfiguration.options['awslogs-create-group'], undefined, 'the execution role may not create groups');
    }
    assert.equal(load('logs/retention.json', Retention).logGroupName, logGroup());
  });

  it('every role a task definition names is created by the README with its own policy file', () => {
    const roleArn = new RegExp(`^arn:aws:iam::${ACCOUNT_ID}:role/${PREFIX}-(.+)$`);
    for (const stage of stageNames) {
      const def = taskDefinition(stage);
      for (const [what, arn] of [['execution', def.executionRoleArn], ['task', def.taskRoleArn]] as const) {
        const role = roleArn.exec(arn)?.[1];
        assert.ok(role, `${stage} ${what} role ${arn} is one of this deployment's roles`);
        assert.ok(readmeRoles.has(role), `the README creates the role ${PREFIX}-${role}`);
        const policyFile = `iam/stageline-${role}-policy.json`;
        assert.equal(readmeRoles.get(role), policyFile, `the README attaches ${policyFile} to ${PREFIX}-${role}`);
        assert.ok(templates.includes(policyFile), `${policyFile} exists`);
      }
      assert.equal(roleArn.exec(def.taskRoleArn)?.[1], `${stage}-task`, 'each stage has its own task role');
    }
    const trust = load('iam/ecs-tasks-trust-policy.json', PolicyDocument);
    for (const s of trust.Statement) {
      assert.equal(s.Principal?.Service, 'ecs-tasks.amazonaws.com');
      assert.deepEqual(s.Action, ['sts:AssumeRole']);
      assert.equal(s.Condition?.StringEquals?.['aws:SourceAccount'], ACCOUNT_ID);
      assert.equal(s.Condition?.ArnLike?.['aws:SourceArn'], `arn:aws:ecs:${REGION}:${ACCOUNT_ID}:*`);
    }
  });

  it("each task role allows what its stage does, on its own queues and the task definition's bucket, and nothing more", () => {
    const clusterName = cluster().clusterName;
    for (const stage of stageNames) {
      const policy = load(`iam/stageline-${stage}-task-policy.json`, PolicyDocument);
      const env = environment(stage);
      const arnOf = (url: string | undefined) => queueArn(queueUrlPattern.exec(url ?? '')?.[1] ?? '?');
      const own = arnOf(env[queueVar[stage]]);
      const dlq = deadLetterArn(stage);
      const next = nextStage(stage);
      const onward = next ? [arnOf(env[queueVar[next]])] : [];
      const events = arnOf(env.SQS_EVENTS_QUEUE_URL);
      const consume = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'];
      // Own queue: consume, and send (an outage's last attempt is sent again; `dlq --redrive` sends back).
      for (const action of [...consume, 'sqs:SendMessage']) assert.ok(allows(policy, action, own), `${stage}: ${action} on its queue`);
      // Its DLQ: watched for dead-lettered jobs, found by URL from the RedrivePolicy, fed unusable bodies, redriven.
      for (const action of [...consume, 'sqs:GetQueueUrl', 'sqs:SendMessage']) assert.ok(allows(policy, action, dlq), `${stage}: ${action} on its DLQ`);
      for (const arn of [...onward, events]) {
        assert.ok(allows(policy, 'sqs:SendMessage', arn), `${stage}: SendMessage to ${arn}`);
        assert.ok(!allows(policy, 'sqs:ReceiveMessage', arn), `${stage}: no ReceiveMessage on ${arn}`);
      }
      const sqsResources = resourcesOf(policy).filter((r) => r.startsWith('arn:aws:sqs:'));
      assert.deepEqual([...new Set(sqsResources)].sort(), [own, dlq, ...onward, events].sort(), `${stage}: SQS permissions on its own queues only`);

      assert.equal(env.S3_BUCKET, BUCKET);
      const s3Resources = resourcesOf(policy).filter((r) => r.startsWith('arn:aws:s3:'));
      assert.ok(s3Resources.every((r) => r === bucketArn || r.startsWith(`${bucketArn}/`)), `${stage}: S3 permissions on ${BUCKET} only: ${s3Resources.join(', ')}`);
      for (const key of ['uploads/job-1/song.wav', 'incoming/data.csv', jobKey('job-1', 'status.json')]) {
        assert.ok(allows(policy, 's3:GetObject', `${bucketArn}/${key}`), `${stage}: read ${key}`);
      }
      for (const key of [jobKey('job-1', 'status.json'), jobKey('job-1', 'audio/mp3-192k.mp3'), 'jobs/.stageline/conditional-write-probe.json']) {
        assert.ok(allows(policy, 's3:PutObject', `${bucketArn}/${key}`), `${stage}: write ${key}`);
        assert.ok(allows(policy, 's3:AbortMultipartUpload', `${bucketArn}/${key}`), `${stage}: abort an upload of ${key}`);
      }
      for (const key of ['uploads/job-1/song.wav', 'incoming/data.csv', 'other/x']) assert.ok(!allows(policy, 's3:PutObject', `${bucketArn}/${key}`), `${stage}: no write to ${key}`);
      assert.ok(!allows(policy, 's3:GetObject', `${bucketArn}/other/x`), `${stage}: no read outside the input and job prefixes`);
      assert.ok(allows(policy, 's3:ListBucket', bucketArn), `${stage}: ListBucket, so a missing input is a 404`);
      assert.ok(!allows(policy, 's3:DeleteObject', `${bucketArn}/${jobKey('job-1', 'status.json')}`), `${stage}: deletes nothing of a job`);
      // The dashboard's job index: a status change writes the job's new entries and deletes the old ones.
      const [indexEntry] = jobIndexKeys({ jobId: 'job-1', state: 'running', input: { bucket: BUCKET, key: 'uploads/job-1/song.wav' }, createdAt: '2026-12-03T00:00:00.000Z' });
      assert.ok(allows(policy, 's3:PutObject', `${bucketArn}/${indexEntry}`) && allows(policy, 's3:DeleteObject', `${bucketArn}/${indexEntry}`), `${stage}: moves job index entries`);
      assert.ok(!allows(policy, 's3:DeleteObject', `${bucketArn}/uploads/job-1/song.wav`), `${stage}: deletes no input`);

      assert.ok(allows(policy, 'ecs:UpdateTaskProtection', `arn:aws:ecs:${REGION}:${ACCOUNT_ID}:task/${clusterName}/0123456789abcdef`), `${stage}: scale-in protection in the cluster`);
      const wildcards = policy.Statement.flatMap((s) => s.Action).filter((a) => a.includes('*'));
      assert.deepEqual(wildcards, [], `${stage}: no wildcard actions`);
    }
  });

  it('the execution role pulls the image from the created repository, writes to the created log group, reads the DSN the README stores', () => {
    const policy = load('iam/stageline-execution-policy.json', PolicyDocument);
    const repository = load('ecr-repository.json', EcrRepository).repositoryName;
    assert.ok(values.IMAGE.startsWith(`${ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com/${repository}:`), 'the README pushes IMAGE to the created repository');
    assert.match(readme, /export IMAGE="\$ACCOUNT_ID\.dkr\.ecr\.\$REGION\.amazonaws\.com\/\$PREFIX:/);
    assert.ok(allows(policy, 'ecr:GetAuthorizationToken', '*'));
    for (const action of ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer']) assert.ok(allows(policy, action, `arn:aws:ecr:${REGION}:${ACCOUNT_ID}:repository/${repository}`), action);
    const group = `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:${logGroup()}`;
    assert.ok(allows(policy, 'logs:CreateLogStream', group));
    for (const stage of stageNames) {
      const prefix = container(stage).logConfiguration.options['awslogs-stream-prefix'];
      assert.ok(allows(policy, 'logs:PutLogEvents', `${group}:log-stream:${prefix}/stageline/0123456789abcdef`), `${stage} may write its log stream`);
    }
    assert.ok(!allows(policy, 'logs:PutLogEvents', `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:/ecs/other:log-stream:x`), 'other log groups are not writable');
    assert.match(readme, /--arg name "\/\$PREFIX\/sentry-dsn"/);
    assert.match(readme, /parameter\/\$PREFIX\/sentry-dsn/);
    assert.ok(allows(policy, 'ssm:GetParameters', `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:parameter/${PREFIX}/sentry-dsn`));
  });

  it('uploads under incoming/ notify the ingestion queue, whose policy lets this bucket send', () => {
    const ingestion = queueArn(stageQueue('ingestion').QueueName);
    const [notification, ...others] = load('s3/notification.json', Notification).QueueConfigurations;
    assert.ok(notification);
    assert.deepEqual(others, []);
    assert.equal(notification.QueueArn, ingestion);
    assert.deepEqual(notification.Events, ['s3:ObjectCreated:*']);
    const prefix = notification.Filter.Key.FilterRules.find((r) => r.Name === 'prefix')?.Value;
    assert.equal(prefix, initDefault('S3_NOTIFICATION_PREFIX'), 'as localstack/ready.d/init-stageline.sh');
    assert.ok(allows(load('iam/stageline-ingestion-task-policy.json', PolicyDocument), 's3:GetObject', `${bucketArn}/${prefix}x.csv`), 'ingestion may read what the notification announces');

    const policy = load('sqs/ingestion-queue-policy.json', PolicyDocument);
    const fromS3 = policy.Statement.filter((s) => s.Principal?.Service === 's3.amazonaws.com');
    assert.ok(fromS3.some((s) => allows({ ...policy, Statement: [s] }, 'sqs:SendMessage', ingestion)), 'S3 may send to the ingestion queue');
    for (const s of fromS3) {
      assert.equal(s.Condition?.ArnLike?.['aws:SourceArn'], bucketArn, 'only from this bucket');
      assert.equal(s.Condition?.StringEquals?.['aws:SourceAccount'], ACCOUNT_ID, 'owned by this account');
    }
  });

  it("each service runs its stage's task definition in the created cluster and scales on that stage's backlog per task", () => {
    const { clusterName, settings } = cluster();
    assert.ok(settings.some((s) => s.name === 'containerInsights' && ['enabled', 'enhanced'].includes(s.value)), 'RunningTaskCount needs Container Insights');
    for (const stage of stageNames) {
      const service = load(`services/stageline-${stage}.json`, Service);
      assert.equal(service.cluster, clusterName);
      assert.equal(service.serviceName, `${PREFIX}-${stage}`);
      assert.equal(service.taskDefinition, taskDefinition(stage).family);
      assert.deepEqual(service.networkConfiguration.awsvpcConfiguration, {
        subnets: values.SUBNETS.split(','),
        securityGroups: [values.SECURITY_GROUP],
        assignPublicIp: values.ASSIGN_PUBLIC_IP,
      });

      const resourceId = `service/${clusterName}/${service.serviceName}`;
      const target = load(`autoscaling/stageline-${stage}-target.json`, ScalableTarget);
      assert.equal(target.ResourceId, resourceId);
      assert.ok(target.MinCapacity >= 1 && target.MinCapacity <= target.MaxCapacity, `${stage}: min/max`);
      const scaling = load(`autoscaling/stageline-${stage}.json`, ScalingPolicy);
      assert.equal(scaling.ResourceId, resourceId);
      assert.equal(scaling.ScalableDimension, target.ScalableDimension);
      const metrics = scaling.TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification.Metrics;
      const dims = (m: (typeof metrics)[number]) => Object.fromEntries(m.MetricStat?.Metric.Dimensions.map((d) => [d.Name, d.Value]) ?? []);
      const visible = metrics.find((m) => m.MetricStat?.Metric.MetricName === 'ApproximateNumberOfMessagesVisible');
      const tasks = metrics.find((m) => m.MetricStat?.Metric.MetricName === 'RunningTaskCount');
      assert.ok(visible && tasks, `${stage}: backlog and task count`);
      assert.equal(visible.MetricStat?.Metric.Namespace, 'AWS/SQS');
      assert.deepEqual(dims(visible), { QueueName: stageQueue(stage).QueueName }, `${stage} scales on its own queue`);
      assert.equal(tasks.MetricStat?.Metric.Namespace, 'ECS/ContainerInsights');
      assert.deepEqual(dims(tasks), { ClusterName: clusterName, ServiceName: service.serviceName }, `${stage} divides by its own tasks`);
      const returned = metrics.filter((m) => m.ReturnData);
      assert.equal(returned.length, 1);
      assert.match(returned[0]?.Expression ?? '', new RegExp(`^${visible.Id}\\s*/.*\\b${tasks.Id}\\b`), `${stage}: backlog per task`);
    }
  });
});
