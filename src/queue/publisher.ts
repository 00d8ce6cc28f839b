import { SendMessageBatchCommand, type MessageAttributeValue, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import type { z } from 'zod';
import { noInstrumentation, type QueueInstrumentation } from './instrumentation.js';
import { RequestBatcher } from './request-batcher.js';
import { callSqsBatch, sqsBatchLimits } from './sqs-batch.js';

/** A queue and the one schema every message on it follows. */
export interface Channel<S extends z.ZodType> {
  readonly name: string;
  readonly queueUrl: string;
  readonly schema: S;
}

export function channel<S extends z.ZodType>(name: string, queueUrl: string, schema: S): Channel<S> {
  return { name, queueUrl, schema };
}

type Entry = Omit<SendMessageBatchRequestEntry, 'Id'>;

/** What SQS counts toward a batch's size: the body and every attribute's name, type and value. */
function entrySize(entry: Entry): number {
  let size = Buffer.byteLength(entry.MessageBody ?? '');
  for (const [name, a] of Object.entries(entry.MessageAttributes ?? {})) {
    size += Buffer.byteLength(name) + Buffer.byteLength(a.DataType ?? '') + Buffer.byteLength(a.StringValue ?? '') + (a.BinaryValue?.byteLength ?? 0);
  }
  return size;
}

/**
 * Sends typed messages: the body is checked against the channel's schema before it leaves, so a
 * consumer never receives what its own schema would reject. Sends to one queue share SendMessageBatch
 * calls when they come while one is under way (RequestBatcher); a send resolves once SQS has its message.
 */
export class Publisher {
  private readonly batchers = new Map<string, RequestBatcher<Entry, string>>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly instrumentation: QueueInstrumentation = noInstrumentation,
  ) {}

  async publish<S extends z.ZodType>(target: Channel<S>, message: z.input<S>, options: { delaySeconds?: number } = {}): Promise<string> {
    const body = JSON.stringify(target.schema.parse(message));
    const attributes: Record<string, MessageAttributeValue> = {};
    return this.instrumentation.publish({ queueUrl: target.queueUrl, bodySize: Buffer.byteLength(body) }, attributes, () =>
      this.batcherFor(target.queueUrl).add({
        MessageBody: body,
        ...(Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}),
        ...(options.delaySeconds ? { DelaySeconds: options.delaySeconds } : {}),
      }),
    );
  }

  private batcherFor(queueUrl: string): RequestBatcher<Entry, string> {
    let batcher = this.batchers.get(queueUrl);
    if (!batcher) {
      batcher = new RequestBatcher(
        (entries) =>
          callSqsBatch('SendMessage', entries, (numbered) => this.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: numbered })), (s) => s.MessageId ?? ''),
        sqsBatchLimits(entrySize),
      );
      this.batchers.set(queueUrl, batcher);
    }
    return batcher;
  }
}
