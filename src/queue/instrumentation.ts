import type { MessageAttributeValue } from '@aws-sdk/client-sqs';

/** What the queue layer knows about a received message when it starts handling it. */
export interface ProcessInfo {
  queueUrl: string;
  messageId: string;
  receiveCount: number;
  /** Milliseconds between the send and this receive. */
  receiveLatencyMs: number;
  attributes: Record<string, MessageAttributeValue>;
  bodySize: number;
}

export interface PublishInfo {
  queueUrl: string;
  bodySize: number;
}

/**
 * Hooks for tracing across queues (Sentry in production, nothing in tests). `publish` may add
 * message attributes (trace propagation) before the send; `process` wraps the handling of one message.
 */
export interface QueueInstrumentation {
  /** `send` resolves with the id SQS gave the message. */
  publish(info: PublishInfo, attributes: Record<string, MessageAttributeValue>, send: () => Promise<string>): Promise<string>;
  process<T>(info: ProcessInfo, handle: () => Promise<T>): Promise<T>;
}

export const noInstrumentation: QueueInstrumentation = {
  publish: (_info, _attributes, send) => send(),
  process: (_info, handle) => handle(),
};
