import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { z } from 'zod';

const RedrivePolicy = z.object({
  deadLetterTargetArn: z.string(),
  maxReceiveCount: z.coerce.number().int().positive(),
});

export interface RedriveInfo {
  deadLetterQueueUrl: string;
  maxReceiveCount: number;
}

/** A queue's dead-letter queue and maxReceiveCount, from its RedrivePolicy; undefined when it has none. */
export async function resolveRedrive(sqs: SQSClient, queueUrl: string): Promise<RedriveInfo | undefined> {
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }));
  const raw = attrs.Attributes?.RedrivePolicy;
  if (!raw) return undefined;
  const policy = RedrivePolicy.parse(JSON.parse(raw));
  return { deadLetterQueueUrl: await queueUrlFromArn(sqs, policy.deadLetterTargetArn), maxReceiveCount: policy.maxReceiveCount };
}

export async function queueUrlFromArn(sqs: SQSClient, arn: string): Promise<string> {
  // arn:aws:sqs:<region>:<account>:<name>
  const [, , , , account, name] = arn.split(':');
  if (!name || !account) throw new Error(`not an SQS queue ARN: ${arn}`);
  const res = await sqs.send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }));
  if (!res.QueueUrl) throw new Error(`no URL for queue ${arn}`);
  return res.QueueUrl;
}

/** Attribute that says why stageline moved a message to a DLQ itself. */
export const deadLetterReasonAttribute = 'stageline-dead-letter-reason';

/** Copies a message to the DLQ unchanged, with the reason; the caller deletes the original afterwards. */
export async function sendToDeadLetter(sqs: SQSClient, deadLetterQueueUrl: string, message: Message, reason: string): Promise<void> {
  const attributes = { ...(message.MessageAttributes ?? {}) };
  attributes[deadLetterReasonAttribute] = { DataType: 'String', StringValue: reason.slice(0, 1024) };
  // SQS allows 10 attributes per message; drop ours rather than fail if the original already has 10.
  if (Object.keys(attributes).length > 10) delete attributes[deadLetterReasonAttribute];
  await sqs.send(
    new SendMessageCommand({ QueueUrl: deadLetterQueueUrl, MessageBody: message.Body ?? '', MessageAttributes: attributes }),
  );
}
