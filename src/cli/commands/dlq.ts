import type { SQSClient } from '@aws-sdk/client-sqs';
import { queueUrlFor, type Config } from '../../contract/env.js';
import type { StageName } from '../../contract/stages.js';
import { deadLetters, type DlqEntry } from '../../pipeline/dead-letter-redrive.js';

export type { DlqEntry };

/** `stageline dlq STAGE [--redrive]`: the stage's dead-letter queue, listed or moved back (src/pipeline/dead-letter-redrive.ts). */
export function dlq(sqs: SQSClient, config: Config, stage: StageName, redrive: boolean): Promise<DlqEntry[]> {
  return deadLetters(sqs, stage, queueUrlFor(config, stage), redrive);
}
