import { createAwsClients } from '../../aws/clients.js';
import { requireBucket, type Config } from '../../contract/env.js';
import { jobPrefix } from '../../contract/job-keys.js';
import { JobIndex } from '../../pipeline/job-index.js';
import { JobStatusStore } from '../../pipeline/job-status.js';
import { ObjectStore } from '../../storage/object-store.js';

/**
 * `stageline cancel JOBID` (contract section 7): a scheduled job becomes `cancelled` (final; its next
 * hop finds it so and drops it). A job that started, ended or does not exist is left as it is and the
 * answer says why. Returns the exit code.
 */
export async function cancel(config: Config, jobId: string, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const store = new ObjectStore(createAwsClients(config).s3, requireBucket(config));
  const statuses = new JobStatusStore(store, { index: JobIndex.forStore(store) });
  const current = await statuses.get(jobId);
  if (!current) {
    err(`no job ${jobId} in s3://${store.bucket}/${jobPrefix(jobId)}`);
    return 1;
  }
  // The conditional write decides a race with the job's start: whichever writes first wins.
  const { status, changed } = await statuses.cancelled(current);
  if (changed) {
    out(`cancelled ${jobId} (it was scheduled for ${status.runAt ?? 'later'})`);
    return 0;
  }
  if (status.state === 'cancelled') {
    out(`${jobId} is already cancelled`);
    return 0;
  }
  err(`cannot cancel ${jobId}: it is ${status.state}${status.state === 'running' ? ' (it has started)' : status.state === 'queued' ? ' (it is on its way through the queues)' : ''}; only a scheduled job can be cancelled`);
  return 1;
}
