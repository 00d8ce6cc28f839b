import { SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import type { z } from 'zod';
import { noInstrumentation, type QueueInstrumentation } from './instrumentation.js';

/** A queue and the one schema every message on it follows. */
export interface Channel<S extends z.ZodType> {
  readonly name: string;
  readonly queueUrl: string;
  readonly schema: S;
}

export function channel<S extends z.ZodType>(name: string, queueUrl: string, schema: S): Channel<S> {
  return { name, queueUrl, schema };
}

/**
 * Sends typed messages: the body is checked against the channel's schema before it leaves, so a
 * consumer never receives what its own schema would reject.
 */
export class Publisher {
  constructor(
    private readonly sqs: SQSClient,
    private readonly instrumentation: QueueInstrumentation = noInstrumentation,
  ) {}

  async publish<S extends z.ZodType>(target: Channel<S>, message: z.input<S>, options: { delaySeconds?: number } = {}): Promise<string> {
    const body = JSON.stringify(target.schema.parse(message));
    const attributes: Record<string, MessageAttributeValue> = {};
    const res = await this.instrumentation.publish({ queueUrl: target.queueUrl, bodySize: Buffer.byteLength(body) }, attributes, () =>
      this.sqs.send(
        new SendMessageCommand({
          QueueUrl: target.queueUrl,
          MessageBody: body,
          ...(Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}),
          ...(options.delaySeconds ? { DelaySeconds: options.delaySeconds } : {}),
        }),
      ),
    );
    return res.MessageId ?? '';
  }
}
