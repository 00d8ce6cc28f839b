import type { S3Client } from '@aws-sdk/client-s3';

export interface S3Read {
  command: 'GetObjectCommand' | 'HeadObjectCommand';
  bucket: string;
  key: string;
}

/**
 * Records every GetObject and HeadObject `s3` sends from now on, before the SDK signs or sends it (a
 * request refused on the way still counts): the proof that a forbidden object was never asked for.
 */
export function recordS3Reads(s3: S3Client): S3Read[] {
  const reads: S3Read[] = [];
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName;
      if (command === 'GetObjectCommand' || command === 'HeadObjectCommand') {
        const input = args.input as { Bucket?: string; Key?: string };
        reads.push({ command, bucket: input.Bucket ?? '', key: input.Key ?? '' });
      }
      return next(args);
    },
    { step: 'initialize', name: `recordS3Reads-${Math.random()}` },
  );
  return reads;
}
