/**
 * The three kinds of failure the queue layer acts on. Tasks and stages throw these;
 * the consumer turns them into an outcome (retry later, fail the job, dead-letter).
 */

/** Something outside our control that may work next time: throttling, 5xx, network, a killed ffmpeg. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The job's input is bad and retrying will not help (unsupported or corrupt file, schema violations,
 * missing object). The job fails with `code` and a message a person can act on; the message is deleted.
 */
export class BadInputError extends Error {
  override readonly name = 'BadInputError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The SQS message itself is unusable (not JSON, matches no schema): dead-lettered at once, never retried. */
export class BadMessageError extends Error {
  override readonly name = 'BadMessageError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Thrown when work stops because its AbortSignal fired (shutdown): the message is released, not failed. */
export class AbortedError extends Error {
  override readonly name = 'AbortedError';
  constructor(message = 'aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
