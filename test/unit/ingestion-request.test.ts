import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadMessageError } from '../../src/contract/errors.js';
import { requestedJobs, s3JobId } from '../../src/pipeline/ingestion-request.js';
import { IngestionMessage } from '../../src/tasks/index.js';

const origin = { defaultBucket: 'stageline', messageId: 'm-1' };
const s3Event = (key: string, sequencer = '00A1', eventName = 'ObjectCreated:Put') => ({
  Records: [{ eventVersion: '2.1', eventSource: 'aws:s3', eventName, s3: { bucket: { name: 'uploads-bucket' }, object: { key, size: 10, sequencer } } }],
});
const parse = (body: unknown) => requestedJobs(IngestionMessage.parse(body), origin);

test('a job request defaults the bucket and keeps its options', () => {
  const [job] = parse({ jobId: 'j1', input: { key: 'uploads/x/a.csv' }, kind: 'csv', csv: { maxErrorRate: 0.1 } });
  assert.deepEqual(job, { jobId: 'j1', input: { bucket: 'stageline', key: 'uploads/x/a.csv' }, kind: 'csv', csv: { maxErrorRate: 0.1 } });
});

test('a job request without jobId is named after the SQS message, so a redelivery is the same job', () => {
  const [a] = parse({ input: { key: 'k' } });
  const [b] = parse({ input: { key: 'k' } });
  assert.equal(a?.jobId, 'msg-m-1');
  assert.equal(a?.jobId, b?.jobId);
});

test('a job request with unknown fields or a bad jobId matches no schema', () => {
  assert.equal(IngestionMessage.safeParse({ input: { key: 'k' }, extra: 1 }).success, false);
  assert.equal(IngestionMessage.safeParse({ jobId: 'has space', input: { key: 'k' } }).success, false);
  assert.equal(IngestionMessage.safeParse({ input: { key: 'k' }, audio: { renditions: ['wav-lossless'] } }).success, false);
});

test('S3 event keys are URL-decoded with + as space, and the jobId is deterministic', () => {
  const [job] = parse(s3Event('incoming/my+song%C3%A9+%2B1.wav'));
  assert.deepEqual(job?.input, { bucket: 'uploads-bucket', key: 'incoming/my songé +1.wav' });
  assert.equal(job?.jobId, s3JobId('uploads-bucket', 'incoming/my songé +1.wav', '00A1'));
  assert.match(job!.jobId, /^[A-Za-z0-9_-]{1,64}$/);
  const [again] = parse(s3Event('incoming/my+song%C3%A9+%2B1.wav'));
  assert.equal(again?.jobId, job?.jobId);
  const [newer] = parse(s3Event('incoming/my+song%C3%A9+%2B1.wav', '00B2'));
  assert.notEqual(newer?.jobId, job?.jobId, 'a new upload of the same key is a new job');
});

test('SNS-wrapped S3 events are unwrapped; only ObjectCreated records become jobs', () => {
  const event = s3Event('a.csv');
  event.Records.push({ ...event.Records[0]!, eventName: 'ObjectRemoved:Delete' });
  const jobs = parse({ Type: 'Notification', MessageId: 'x', TopicArn: 'arn', Message: JSON.stringify(event) });
  assert.equal(jobs.length, 1);
  assert.equal(jobs[0]?.input.key, 'a.csv');
});

test('s3:TestEvent, direct or via SNS, asks for no job', () => {
  assert.deepEqual(parse({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'b' }), []);
  assert.deepEqual(parse({ Type: 'Notification', Message: JSON.stringify({ Event: 's3:TestEvent' }) }), []);
});

test('an SNS notification that does not carry an S3 event is a bad message', () => {
  assert.throws(() => parse({ Type: 'Notification', Message: 'not json' }), BadMessageError);
  assert.throws(() => parse({ Type: 'Notification', Message: '{"hello":1}' }), BadMessageError);
  assert.throws(() => parse(s3Event('bad%E0%A4%A.csv')), BadMessageError);
});

test("S3 events for the pipeline's own outputs start no job (no feedback loop)", () => {
  const own = { Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'stageline' }, object: { key: 'jobs/j1/validated.csv', sequencer: '1' } } }] };
  assert.deepEqual(parse(own), []);
  const elsewhere = { Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'other-bucket' }, object: { key: 'jobs/j1/x.csv', sequencer: '1' } } }] };
  assert.equal(parse(elsewhere).length, 1);
});

test('a request carries its runAt or delaySeconds, unique and force; not both times at once', () => {
  const [job] = parse({ jobId: 'j2', input: { key: 'uploads/a.csv' }, runAt: '2026-12-03T18:00:00Z', unique: { key: 'daily', for: 60 }, force: true });
  assert.deepEqual(job, { jobId: 'j2', input: { bucket: 'stageline', key: 'uploads/a.csv' }, runAt: '2026-12-03T18:00:00Z', unique: { key: 'daily', for: 60 }, force: true });
  assert.equal(parse({ input: { key: 'k' }, delaySeconds: 30 })[0]?.delaySeconds, 30);
  assert.equal(IngestionMessage.safeParse({ input: { key: 'k' }, runAt: '2026-12-03T18:00:00Z', delaySeconds: 5 }).success, false);
  assert.equal(IngestionMessage.safeParse({ input: { key: 'k' }, runAt: 'tomorrow' }).success, false);
  assert.equal(IngestionMessage.safeParse({ input: { key: 'k' }, delaySeconds: -1 }).success, false);
  assert.equal(IngestionMessage.safeParse({ input: { key: 'k' }, unique: { for: 0 } }).success, false);
  assert.equal(IngestionMessage.safeParse({ input: { key: 'k' }, unique: { for: 'forever' } }).success, true);
});

test('an S3 notification asks for a unique job for ever: content already processed is not processed again', () => {
  const [job] = parse(s3Event('incoming/a.csv'));
  assert.deepEqual(job?.unique, { for: 'forever' });
});
