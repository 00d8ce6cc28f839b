import { GetQueueAttributesCommand, ReceiveMessageCommand, type QueueAttributeName, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import type { QueuesResponse, StageQueueStats } from '../contract/dashboard-api.js';
import { errorMessage } from '../contract/errors.js';
import { stageNames, type StageName } from '../contract/stages.js';
import { resolveRedrive } from '../queue/redrive.js';

export interface QueueStatsOptions {
  sqs: SQSClient;
  queueUrls: Record<StageName, string>;
  logger?: Logger;
  now?: () => number;
  /** How long a DLQ's oldest message time is trusted before it is looked at again. */
  peekEveryMs?: number;
}

interface DeadLetterQueue {
  url: string;
  /** The oldest SentTimestamp seen, and when the DLQ was last looked at. */
  oldestSentMs?: number;
  peekedAt?: number;
}

/**
 * The queues' counts for `GET /api/queues` and the event stream: one GetQueueAttributes per queue and
 * DLQ (visible, in flight, delayed). The age of a DLQ's oldest message comes from a peek: a receive
 * with VisibilityTimeout 0, which leaves every message visible to everyone else and takes at most 10
 * (SQS samples, so on a large DLQ the oldest of those, an approximation), at most once per
 * `peekEveryMs`. It adds one to the peeked messages' receive count, which no one acts on in a DLQ
 * (the workers' DLQ watchers receive them too). A stage queue is never peeked: there a receive spends
 * one of the message's attempts before it is dead-lettered.
 */
export class QueueStats {
  private readonly deadLetterQueues = new Map<StageName, Promise<DeadLetterQueue | undefined>>();
  private readonly now: () => number;
  private readonly peekEveryMs: number;

  constructor(private readonly options: QueueStatsOptions) {
    this.now = options.now ?? Date.now;
    this.peekEveryMs = options.peekEveryMs ?? 30_000;
  }

  async all(): Promise<QueuesResponse> {
    const [ingestion, validation, analysis] = await Promise.all(stageNames.map((stage) => this.stage(stage)));
    return { ingestion: ingestion!, validation: validation!, analysis: analysis! };
  }

  async stage(stage: StageName): Promise<StageQueueStats> {
    try {
      const [queue, dlq] = await Promise.all([this.counts(this.options.queueUrls[stage]), this.deadLetterQueue(stage)]);
      if (!dlq) return { ...queue, dlqDepth: null, oldestAgeSeconds: null };
      const dlqCounts = await this.counts(dlq.url);
      const dlqDepth = dlqCounts.visible + dlqCounts.inFlight + dlqCounts.delayed;
      return { ...queue, dlqDepth, oldestAgeSeconds: await this.oldestAge(dlq, dlqDepth) };
    } catch (err) {
      // A dead queue URL or SQS failing: the page shows it instead of failing every stage.
      this.options.logger?.warn({ stage, err: errorMessage(err) }, 'could not read queue counts');
      this.deadLetterQueues.delete(stage);
      return { visible: 0, inFlight: 0, delayed: 0, dlqDepth: null, oldestAgeSeconds: null, error: `could not read the ${stage} queue: ${errorMessage(err)}` };
    }
  }

  /** The stage's DLQ from its RedrivePolicy, looked up once (again after a failure). */
  private deadLetterQueue(stage: StageName): Promise<DeadLetterQueue | undefined> {
    let found = this.deadLetterQueues.get(stage);
    if (!found) {
      found = resolveRedrive(this.options.sqs, this.options.queueUrls[stage]).then((info) => (info ? { url: info.deadLetterQueueUrl } : undefined));
      this.deadLetterQueues.set(stage, found);
      found.catch(() => this.deadLetterQueues.delete(stage));
    }
    return found;
  }

  private async counts(queueUrl: string): Promise<Pick<StageQueueStats, 'visible' | 'inFlight' | 'delayed'>> {
    const res = await this.options.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    const n = (name: QueueAttributeName) => Math.max(0, Math.trunc(Number(res.Attributes?.[name] ?? 0)) || 0);
    return { visible: n('ApproximateNumberOfMessages'), inFlight: n('ApproximateNumberOfMessagesNotVisible'), delayed: n('ApproximateNumberOfMessagesDelayed') };
  }

  private async oldestAge(dlq: DeadLetterQueue, depth: number): Promise<number | null> {
    if (depth === 0) {
      dlq.oldestSentMs = undefined;
      return 0;
    }
    const now = this.now();
    if (dlq.peekedAt === undefined || now - dlq.peekedAt >= this.peekEveryMs || dlq.oldestSentMs === undefined) {
      dlq.peekedAt = now;
      const res = await this.options.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: dlq.url, MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['SentTimestamp'] }),
      );
      const sent = (res.Messages ?? []).map((m) => Number(m.Attributes?.SentTimestamp)).filter((t) => Number.isFinite(t) && t > 0);
      // Nothing visible (a watcher's sweep holds them for a moment): keep the last oldest seen.
      if (sent.length > 0) dlq.oldestSentMs = Math.min(...sent);
    }
    return dlq.oldestSentMs === undefined ? null : Math.max(0, Math.round((now - dlq.oldestSentMs) / 1000));
  }
}
