import assert from 'node:assert/strict';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { submit } from '../../src/cli/commands/submit.js';
import type { StageStatus } from '../../src/contract/status-document.js';
import { TaskRegistry } from '../../src/pipeline/registry.js';
import { eventually, finalStatus, jobStatus, startStack, startTestWorker, type TestStack } from '../helpers/pipeline.js';
import { RecordingTask } from '../helpers/recording-task.js';

let stack: TestStack;
let dir: string;
before(async () => {
  stack = await startStack();
  dir = await mkdtemp(join(tmpdir(), 'stageline-progress-'));
});
after(async () => {
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
});

test('a long stage shows its percent and estimated finish in status.json and in submit --wait, and drops them when it ends', async () => {
  // Ten steps of 700 ms: long enough for several progress writes (at most one per 3 s).
  const slow = new RecordingTask('slow', async (ctx) => {
    for (let step = 1; step <= 10; step++) {
      await new Promise((r) => setTimeout(r, 700));
      ctx.reportProgress(step / 10);
    }
  });
  const worker = await startTestWorker(stack, { registry: new TaskRegistry().register('analysis', 'csv', slow) });
  try {
    const file = join(dir, 'data.csv');
    await writeFile(file, 'a,b\n1,2\n');
    const lines: string[] = [];
    const submitted = submit(stack.config, { file, kind: 'csv', wait: true, out: (l) => lines.push(l), pollMs: 200 });
    const jobId = await eventually(async () => lines[0], 'the jobId');
    const seen: StageStatus['progress'][] = [];
    const analysisDone = async () => {
      const status = await jobStatus(stack.store, jobId);
      const analysis = status?.stages.analysis;
      if (analysis?.progress) seen.push(analysis.progress);
      return analysis?.state === 'succeeded' ? analysis : undefined;
    };
    const finished = await eventually(analysisDone, 'the analysis stage to end', 30_000, 150);
    const result = await submitted;
    assert.equal(result.exitCode, 0);
    assert.ok(seen.length >= 2, `progress seen while running: ${JSON.stringify(seen)}`);
    const percents = seen.map((p) => p?.percent ?? -1);
    assert.deepEqual([...percents].sort((a, b) => a - b), percents, 'progress only grows');
    assert.ok(percents.every((p) => p > 0 && p <= 100));
    const last = seen.at(-1);
    assert.ok(last?.estimatedFinishAt && Math.abs(Date.parse(last.estimatedFinishAt) - Date.parse(finished.finishedAt ?? '')) < 5_000, `estimate ${last?.estimatedFinishAt} vs end ${finished.finishedAt}`);
    assert.equal(finished.progress, undefined, 'the ended stage carries no progress');
    assert.ok(lines.some((l) => /analysis: running \d+%, done about \d\d:\d\d:\d\d UTC/.test(l)), lines.join('\n'));
    assert.equal((await finalStatus(stack.store, jobId)).state, 'succeeded');
  } finally {
    await worker.stop();
  }
});
