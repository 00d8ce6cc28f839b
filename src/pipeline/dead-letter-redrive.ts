import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { deadLetterPeekSeconds } from './dead-letter-watcher.js';
import type { StageName } from '../contract/stages.js';
import { deadLetterReasonAttribute, resolveRedrive } from '../queue/redrive.js';

export interface DlqEntry {
  messageId: string;
  receiveCount: number;
  sentAt: string;
  reason?: string;
  body: string;
}

/**
 * Lists a stage's dead-letter queue, or with `redrive` moves every message back to the stage queue
 * (send first, then delete, so a crash in between duplicates rather than loses). Only messages that
 * were in the DLQ when the command started are taken: a redriven message that fails again and returns
 * to the DLQ is left there, so a redrive of a still-broken message cannot loop. Every worker's
 * dead-letter watcher holds DLQ messages invisible for a moment now and then: while the DLQ reports
 * messages this command does not hold, it keeps receiving, up to a bounded wait.
 * The one copy behind `stageline dlq` and the dashboard's `POST /api/dlq/{stage}/redrive`.
 */
export async function deadLetters(sqs: SQSClient, stage: StageName, queueUrl: string, redrive: boolean): Promise<DlqEntry[]> {
  const info = await resolveRedrive(sqs, queueUrl);
  if (!info) throw new Error(`the ${stage} queue has no RedrivePolicy, so it has no dead-letter queue`);
  const startedAt = Date.now();
  const seen: DlqEntry[] = [];
  const held: Message[] = [];
  let lastProgress = Date.now();
  for (let arrivedSince = false; !arrivedSince; ) {
    // Listing SQS means receiving: messages stay invisible while we page, then are released below.
    const res = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: info.deadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = res.Messages ?? [];
    if (messages.length === 0) {
      if (Date.now() - lastProgress > heldElsewhereWaitMs) break;
      if ((await depth(sqs, info.deadLetterQueueUrl)) - held.length <= 0) break;
      continue;
    }
    lastProgress = Date.now();
    for (const m of messages) {
      if (Number(m.Attributes?.SentTimestamp ?? 0) > startedAt) {
        arrivedSince = true;
        held.push(m);
        continue;
      }
      const reason = m.MessageAttributes?.[deadLetterReasonAttribute]?.StringValue;
      seen.push({
        messageId: m.MessageId ?? '',
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 0),
        sentAt: new Date(Number(m.Attributes?.SentTimestamp ?? 0)).toISOString(),
        body: m.Body ?? '',
        ...(reason ? { reason } : {}),
      });
      if (redrive) {
        const attributes = { ...(m.MessageAttributes ?? {}) };
        delete attributes[deadLetterReasonAttribute];
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: queueUrl,
            MessageBody: m.Body ?? '',
            ...(Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}),
          }),
        );
        await sqs.send(new DeleteMessageCommand({ QueueUrl: info.deadLetterQueueUrl, ReceiptHandle: m.ReceiptHandle }));
      } else {
        held.push(m);
      }
    }
  }
  for (let i = 0; i < held.length; i += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: info.deadLetterQueueUrl,
        Entries: held.slice(i, i + 10).map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })),
      }),
    );
  }
  return seen;
}

/** How long to wait for DLQ messages someone else holds (a watcher's sweep hides them for at most deadLetterPeekSeconds). */
const heldElsewhereWaitMs = (deadLetterPeekSeconds + 5) * 1000;

/** Messages in the queue, visible or not. */
async function depth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const res = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(res.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}
