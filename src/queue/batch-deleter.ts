import { DeleteMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { RequestBatcher } from './request-batcher.js';
import { callSqsBatch, sqsBatchLimits } from './sqs-batch.js';

/**
 * Deletes a queue's finished messages through DeleteMessageBatch calls of up to ten (see RequestBatcher
 * for when they go), so a busy consumer's deletes cost one request per batch instead of one per message.
 * Each caller still learns whether its own delete succeeded.
 */
export class BatchDeleter {
  private readonly batcher: RequestBatcher<{ ReceiptHandle: string }, void>;

  constructor(sqs: SQSClient, queueUrl: string) {
    this.batcher = new RequestBatcher<{ ReceiptHandle: string }, void>(
      (entries) =>
        callSqsBatch('DeleteMessage', entries, (numbered) => sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: numbered })), () => undefined),
      sqsBatchLimits(() => 0),
    );
  }

  delete(receiptHandle: string): Promise<void> {
    return this.batcher.add({ ReceiptHandle: receiptHandle });
  }
}
