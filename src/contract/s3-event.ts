import { z } from 'zod';

/** Contract 3(b): an S3 event notification (only the fields we use; S3 sends many more). */
export const S3EventRecord = z.looseObject({
  eventName: z.string(),
  // S3 names no object with an empty bucket or key; such a record would become a job no status or event can name.
  s3: z.looseObject({
    bucket: z.looseObject({ name: z.string().min(1) }),
    object: z.looseObject({ key: z.string().min(1), sequencer: z.string().optional(), size: z.number().optional() }),
  }),
});
export const S3EventNotification = z.looseObject({ Records: z.array(S3EventRecord) });
export const S3TestEvent = z.looseObject({ Event: z.literal('s3:TestEvent') });
/** SNS wraps the S3 event as a JSON string in `Message`. */
export const SnsEnvelope = z.looseObject({ Type: z.literal('Notification'), Message: z.string() });
