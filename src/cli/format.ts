import type { JobStatus } from '../contract/status-document.js';
import { stageNames } from '../contract/stages.js';

/** The status document as a person reads it. */
export function formatStatus(status: JobStatus, outputBucket: string): string {
  const lines = [
    `job      ${status.jobId}`,
    `kind     ${status.kind ?? '(not yet known)'}`,
    `state    ${status.state}`,
    ...(status.runAt ? [`runs at  ${status.runAt}`] : []),
    ...(status.duplicateOf ? [`duplicate of ${status.duplicateOf}: a unique job that holds the same key; no job was created`] : []),
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
    const progress = s.state === 'running' && s.progress ? `, ${s.progress.percent}% done${s.progress.estimatedFinishAt ? `, expected to finish ${s.progress.estimatedFinishAt}` : ''}` : '';
    lines.push(`  ${name.padEnd(11)} ${s.state}${took}, attempt ${s.attempts}${progress}`);
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
  if (status.state === 'scheduled') return `[scheduled] starts at ${status.runAt ?? 'its runAt'}`;
  const parts = stageNames.map((name) => {
    const s = status.stages[name];
    if (!s) return `${name}: waiting`;
    const attempt = s.attempts > 1 ? ` (attempt ${s.attempts})` : '';
    const done = s.state === 'running' && s.progress ? ` ${s.progress.percent.toFixed(0)}%${s.progress.estimatedFinishAt ? `, done about ${s.progress.estimatedFinishAt.slice(11, 19)} UTC` : ''}` : '';
    return `${name}: ${s.state}${attempt}${done}`;
  });
  return `[${status.state}] ${parts.join('  ')}`;
}
