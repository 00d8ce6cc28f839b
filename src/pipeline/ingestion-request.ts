import { createHash } from 'node:crypto';
import { z } from 'zod';
import { BadMessageError } from '../contract/errors.js';
import { JobRequestEnvelope, kindOptionsOf, type IngestionMessage, type JobKind, type JobRequest, type KindOptionsByKind, type ObjectRef } from '../contract/job.js';
import { isOutputKey } from '../contract/job-keys.js';
import { S3EventNotification, S3TestEvent, SnsEnvelope } from '../contract/s3-event.js';

/** A job as asked for, before its kind is known: with the options of any kind it named, and when and how uniquely it runs (contract section 7). */
export type RequestedJob = { jobId: string; input: ObjectRef; kind?: JobKind } & KindOptionsByKind & Pick<JobRequest, 'runAt' | 'delaySeconds' | 'unique' | 'force'>;

/** An S3 notification for content (ETag) already processed, or being processed, creates no new job. */
const s3EventUniqueness = { for: 'forever' } as const;

/** Turns one ingestion message into the jobs it asks for: none for a test event, one per S3 record. */
export function requestedJobs(message: IngestionMessage, origin: { defaultBucket: string; messageId: string }): RequestedJob[] {
  if (S3TestEvent.safeParse(message).success) return [];
  const sns = SnsEnvelope.safeParse(message);
  if (sns.success) return requestedJobs(unwrapSns(sns.data.Message), origin);
  const event = S3EventNotification.safeParse(message);
  if (event.success) {
    return event.data.Records.filter((r) => /^(s3:)?ObjectCreated:/.test(r.eventName)).flatMap((r) => {
      const bucket = r.s3.bucket.name;
      const key = decodeS3Key(r.s3.object.key);
      // Our own outputs are never inputs: a notification on the whole bucket would otherwise feed
      // every output back in as a new job, without end.
      if (bucket === origin.defaultBucket && isOutputKey(key)) return [];
      return [{ jobId: s3JobId(bucket, key, r.s3.object.sequencer), input: { bucket, key }, unique: s3EventUniqueness }];
    });
  }
  // The consumer held the body to the full schema, each kind's options included; here only its shape matters.
  const request = JobRequestEnvelope.parse(message);
  return [
    {
      // Without a jobId, the SQS message id names the job: a redelivery is the same job, not a new one.
      jobId: request.jobId ?? `msg-${origin.messageId.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 60)}`,
      input: { bucket: request.input.bucket ?? origin.defaultBucket, key: request.input.key },
      ...(request.kind ? { kind: request.kind } : {}),
      ...kindOptionsOf(request),
      ...(request.runAt !== undefined ? { runAt: request.runAt } : {}),
      ...(request.delaySeconds !== undefined ? { delaySeconds: request.delaySeconds } : {}),
      ...(request.unique !== undefined ? { unique: request.unique } : {}),
      ...(request.force !== undefined ? { force: request.force } : {}),
    },
  ];
}

const SnsPayload = z.union([S3TestEvent, S3EventNotification]);

function unwrapSns(text: string): z.infer<typeof SnsPayload> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BadMessageError('SNS notification whose Message is not JSON');
  }
  const parsed = SnsPayload.safeParse(json);
  if (!parsed.success) throw new BadMessageError('SNS notification whose Message is not an S3 event');
  return parsed.data;
}

/** S3 event keys are URL-encoded with `+` for space. */
export function decodeS3Key(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    throw new BadMessageError(`S3 event with a key that is not valid URL encoding: ${key.slice(0, 200)}`);
  }
}

/** The same object version (bucket, key, sequencer) always gives the same job, so a redelivered event repeats it. */
export function s3JobId(bucket: string, key: string, sequencer = ''): string {
  return 's3-' + createHash('sha256').update(`${bucket}\n${key}\n${sequencer}`).digest('hex').slice(0, 40);
}
