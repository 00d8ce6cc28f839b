import { DeleteMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

interface Pending {
  id: string;
  receiptHandle: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Collects deletes made in the same turn of the event loop into DeleteMessageBatch calls of up to ten,
 * so a batch of finished messages costs one request instead of ten. Each caller still learns whether
 * its own delete succeeded.
 */
export class BatchDeleter {
  private pending: Pending[] = [];
  private scheduled = false;
  private nextId = 0;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  delete(receiptHandle: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ id: String(this.nextId++), receiptHandle, resolve, reject });
      if (this.pending.length >= 10) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.pending.length > 0) void this.send(this.pending.splice(0, 10));
  }

  private async send(batch: Pending[]): Promise<void> {
    try {
      const res = await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((p) => ({ Id: p.id, ReceiptHandle: p.receiptHandle })),
        }),
      );
      const failed = new Map((res.Failed ?? []).map((f) => [f.Id, f]));
      for (const p of batch) {
        const f = failed.get(p.id);
        if (f) p.reject(new Error(`delete failed: ${f.Code ?? 'unknown'} ${f.Message ?? ''}`.trim()));
        else p.resolve();
      }
    } catch (err) {
      for (const p of batch) p.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
