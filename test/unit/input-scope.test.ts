import assert from 'node:assert/strict';
import { test } from 'node:test';
import { S3Client } from '@aws-sdk/client-s3';
import { ConfigError, loadConfig } from '../../src/contract/env.js';
import { BadInputError } from '../../src/contract/errors.js';
import { InputScope, keyProblem } from '../../src/storage/input-scope.js';
import { checkJobReads } from '../../src/pipeline/kinds.js';
import { JobMessage, kindDefinitions } from '../../src/tasks/index.js';
import { ObjectStore } from '../../src/storage/object-store.js';
import { schemaLimitsFrom } from '../../src/tasks/csv/schema/schema-limits.js';
import { loadSchema } from '../../src/tasks/csv/schema/schema-source.js';
import { recordS3Reads } from '../helpers/s3-reads.js';

const scope = new InputScope(['stageline'], ['uploads/', 'incoming/']);
const ref = (key: string, bucket = 'stageline') => ({ bucket, key });
const forbidden = (err: unknown) => err instanceof BadInputError && err.code === 'INPUT_FORBIDDEN';

test('plain keys under the prefixes of the configured buckets may be read', () => {
  for (const key of ['uploads/x/song.wav', 'incoming/daily.csv', 'uploads/a b/c+d (1).csv', 'uploads/x/café.wav', 'uploads/x/cafe\u0301.wav', 'uploads/x/...wav', 'uploads/x/数据.csv']) {
    assert.equal(scope.refusal(ref(key)), undefined, key);
    scope.check(ref(key), 'input');
  }
});

test('another bucket, another prefix and jobs/ are forbidden', () => {
  assert.match(scope.refusal(ref('uploads/x.csv', 'secret-bucket')) ?? '', /INPUT_BUCKETS/);
  assert.match(scope.refusal(ref('other/x.csv')) ?? '', /INPUT_PREFIXES/);
  assert.match(scope.refusal(ref('jobs/victim/validated.csv')) ?? '', /never input/);
  assert.match(scope.refusal(ref('Uploads/x.csv')) ?? '', /INPUT_PREFIXES/, 'S3 keys are case-sensitive');
  // Even an operator who lists jobs/ (or a prefix of it) cannot make outputs readable.
  assert.match(new InputScope(['stageline'], ['j']).refusal(ref('jobs/victim/status.json')) ?? '', /never input/);
});

test('keys that any layer could read as another key are refused, never repaired', () => {
  const cases: [string, RegExp][] = [
    ['uploads/../jobs/victim/status.json', /\.\. segment/],
    ['uploads/./x.csv', /\.\. segment|\. or \.\./],
    ['uploads//x.csv', /empty segment/],
    ['/uploads/x.csv', /empty segment/],
    ['uploads/x/', /empty segment/],
    ['uploads/%2e%2e/jobs/victim/status.json', /URL escape/],
    ['uploads/%2E%2E%2Fjobs%2Fvictim', /URL escape/],
    ['uploads%2F..%2Fjobs/victim/status.json', /URL escape/],
    ['uploads/%252e%252e/jobs/x', /URL escape/],
    ['uploads\\..\\jobs\\victim\\status.json', /backslash/],
    ['uploads/\uff0e\uff0e/jobs/victim/status.json', /compatibility/], // fullwidth full stops
    ['uploads\uff0f..\uff0fjobs/victim', /compatibility|\.\. segment/], // fullwidth solidus
    ['uploads/\u2024\u2024/jobs/victim', /compatibility/], // one dot leaders
    ['uploads/\ufe52\ufe52/jobs/victim', /compatibility/], // small full stops
    ['uploads/x\uff05.csv', /compatibility/], // fullwidth percent
    ['uploads/.\u200b./jobs/victim', /\. or \.\./], // a zero-width space between the dots
    ['uploads/.\u0301./jobs/victim', /\. or \.\./], // a combining mark between the dots
    ['uploads/\u200b/x.csv', /empty segment/],
    ['uploads/x\n.csv', /control/],
    ['uploads/x\u0000.csv', /control/],
  ];
  for (const [key, why] of cases) {
    assert.match(keyProblem(key) ?? '', why, JSON.stringify(key));
    assert.throws(() => scope.check(ref(key), 'input'), forbidden, JSON.stringify(key));
  }
});

test('the refusal names the field, the code and what is allowed, and shows odd characters escaped', () => {
  assert.throws(
    () => scope.check(ref('uploads/x\n.csv'), 'csv.schemaKey'),
    (err: unknown) => forbidden(err) && err instanceof Error && err.message.startsWith('csv.schemaKey s3://stageline/uploads/x\\n.csv may not be read') && /uploads\/, incoming\//.test(err.message),
  );
});

test("a job's schemaKey obeys the same rule as its input, in the input's bucket", () => {
  checkJobReads(scope, kindDefinitions, { input: ref('uploads/a.csv'), csv: { schemaKey: 'uploads/schema.json' } });
  assert.throws(() => checkJobReads(scope, kindDefinitions, { input: ref('uploads/a.csv'), csv: { schemaKey: 'jobs/victim/validation.json' } }), (err: Error) => forbidden(err) && err.message.startsWith('csv.schemaKey'));
  assert.throws(() => checkJobReads(scope, kindDefinitions, { input: ref('uploads/a.csv', 'other'), csv: { schemaKey: 'uploads/s.json' } }), (err: Error) => forbidden(err) && err.message.startsWith('input'));
});

test('INPUT_BUCKETS defaults to S3_BUCKET alone, INPUT_PREFIXES to uploads/ and incoming/', () => {
  const defaults = InputScope.fromConfig(loadConfig({ S3_BUCKET: 'stageline' }));
  assert.deepEqual([defaults.buckets, defaults.prefixes], [['stageline'], ['uploads/', 'incoming/']]);
  assert.deepEqual(InputScope.forBucket('b1').prefixes, ['uploads/', 'incoming/'], 'a store built without config gets the same defaults');
  const configured = InputScope.fromConfig(loadConfig({ S3_BUCKET: 'stageline', INPUT_BUCKETS: 'partner-a, partner-b', INPUT_PREFIXES: 'drop/,feeds/daily/' }));
  assert.deepEqual([configured.buckets, configured.prefixes], [['partner-a', 'partner-b'], ['drop/', 'feeds/daily/']]);
  assert.equal(configured.refusal(ref('uploads/x.csv', 'stageline')) !== undefined, true, 'listing buckets replaces the default');
  assert.equal(loadConfig({}).MAX_INPUT_BYTES, 2 * 1024 ** 3);
});

test('INPUT_PREFIXES may not open jobs/; bad values name the variable', () => {
  for (const [env, pattern] of [
    [{ INPUT_PREFIXES: 'uploads/,jobs/' }, /^INPUT_PREFIXES: .*never input/],
    [{ INPUT_PREFIXES: ' , ' }, /^INPUT_PREFIXES: /],
    [{ INPUT_BUCKETS: ',' }, /^INPUT_BUCKETS: /],
    [{ MAX_INPUT_BYTES: '-1' }, /^MAX_INPUT_BYTES: /],
    [{ MAX_INPUT_BYTES: 'lots' }, /^MAX_INPUT_BYTES: /],
  ] as const) {
    assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && pattern.test(err.message), JSON.stringify(env));
  }
});

test('the CSV schema reader checks schemaKey before it asks S3 for anything', async () => {
  const s3 = new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  const reads = recordS3Reads(s3);
  const store = new ObjectStore(s3, 'stageline', scope);
  const limits = schemaLimitsFrom(loadConfig({}));
  const job = (schemaKey: string) => JobMessage.parse({ jobId: 'j1', kind: 'csv', input: ref('uploads/a.csv'), csv: { schemaKey } });
  for (const key of ['jobs/victim/validation.json', 'uploads/../jobs/victim/validation.json', 'schemas/x.json']) {
    await assert.rejects(loadSchema(job(key), store, new AbortController().signal, limits), forbidden, key);
  }
  assert.equal(reads.length, 0, 'nothing was asked of S3');
  // An allowed key is read (here: the read fails, the endpoint is closed; what matters is that it was asked).
  await assert.rejects(loadSchema(job('uploads/schema.json'), store, new AbortController().signal, limits));
  assert.deepEqual(reads.map((r) => r.key), ['uploads/schema.json']);
});
