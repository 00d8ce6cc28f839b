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

/**
 * The job was aborted because its message's visibility could not be extended until it may have become
 * visible again: another worker may own the message now, so this one writes no outcome for it.
 */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(message = 'lost the message lease: visibility extensions kept failing', options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Error names the AWS SDK and Node give throttling, timeouts and failures on the service's side. */
const infrastructureNames = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'KmsThrottled',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalError',
  'InternalFailure',
]);
const networkCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/**
 * The one classification of "the store or the queue is failing, not the message": throttling, 5xx,
 * timeouts and network errors, anywhere in the error's cause chain. Such a failure costs a message nothing:
 * it is released with a delay while the failing service is probed. A decision already taken about the
 * work (bad input, unusable message, a lost lease) or an abort (ours, not the service's) wins over any
 * cause it wraps. 501 Not Implemented is no outage: the same call would fail the same way for ever.
 */
export function isInfrastructureError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof BadInputError || e instanceof BadMessageError || e instanceof AbortedError || e instanceof LeaseLostError) return false;
    if (e.name === 'AbortError') return false;
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== undefined && ((status >= 500 && status !== 501) || status === 429)) return true;
    if (infrastructureNames.has(e.name)) return true;
    // The SDK's mark for the service's fault; an entry of a batch call that failed alone carries it too.
    if (status !== 501 && (e as { $fault?: unknown }).$fault === 'server') return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && networkCodes.has(code)) return true;
    if ((e as { $retryable?: { throttling?: boolean } }).$retryable?.throttling) return true;
  }
  return false;
}
