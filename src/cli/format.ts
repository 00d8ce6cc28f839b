import type { JobStatus } from '../contract/status-document.js';
import { stageNames } from '../contract/stages.js';

/** The status document as a person reads it. */
export function formatStatus(status: JobStatus, outputBucket: string): string {
  const lines = [
    `job      ${status.jobId}`,
    `kind     ${status.kind ?? '(not yet known)'}`,
    `state    ${status.state}`,
    `input    s3://${status.input.bucket}/${status.input.key}`,
    `updated  ${status.updatedAt}`,
    'stages',
  ];
  for (const name of stageNames) {
    const s = status.stages[name];
    if (!s) {
      lines.push(`  ${name.padEnd(11)} -`);
      continue;
    }
    const took = s.durationMs !== undefined ? ` in ${(s.durationMs / 1000).toFixed(1)} s` : '';
    lines.push(`  ${name.padEnd(11)} ${s.state}${took}, attempt ${s.attempts}`);
    if (s.error) lines.push(`              ${s.error.code}: ${s.error.message}`);
  }
  const outputs = Object.entries(status.outputs);
  if (outputs.length > 0) {
    lines.push('outputs');
    for (const [name, key] of outputs) lines.push(`  ${name.padEnd(24)} s3://${outputBucket}/${key}`);
  }
  return lines.join('\n');
}

/** One line per change while `submit --wait` follows a job. */
export function progressLine(status: JobStatus): string {
  const parts = stageNames.map((name) => {
    const s = status.stages[name];
    return `${name}: ${s ? s.state + (s.attempts > 1 ? ` (attempt ${s.attempts})` : '') : 'waiting'}`;
  });
  return `[${status.state}] ${parts.join('  ')}`;
}
