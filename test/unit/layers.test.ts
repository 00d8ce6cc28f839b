import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

// The layer rules of .dependency-cruiser.cjs (docs/architecture.md), run over src/ and over a small tree
// that breaks each rule, so a rule that stopped matching would show here.
const repo = fileURLToPath(new URL('../../', import.meta.url));
const cruiser = join(repo, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const config = join(repo, '.dependency-cruiser.cjs');

function cruise(cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cruiser, 'src', '--config', config, '--output-type', 'err'], { cwd }, (err, stdout, stderr) => {
      const code = err && typeof err.code === 'number' ? err.code : err ? 1 : 0;
      resolve({ code, output: stdout + stderr });
    });
  });
}

describe('the layers of src/', () => {
  it('no import points up a layer, across kinds or in a circle', async () => {
    const { code, output } = await cruise(repo);
    assert.equal(code, 0, `the layer check names the offending imports:\n${output}`);
    assert.match(output, /no dependency violations found/);
  });

  describe('each rule catches what it forbids, type-only imports included', () => {
    let tree: string;
    const write = async (path: string, text: string) => {
      await mkdir(dirname(join(tree, path)), { recursive: true });
      await writeFile(join(tree, path), text);
    };
    before(async () => {
      tree = await mkdtemp(join(tmpdir(), 'stageline-layers-'));
      await write('src/contract/job.ts', 'export type Job = { id: string };\n');
      await write('src/pipeline/task.ts', "import type { Job } from '../contract/job.js';\nexport type Task = { run(job: Job): void };\n");
      await write('src/storage/store.ts', "import type { Task } from '../pipeline/task.js';\nexport type Stored = Task;\n");
      await write('src/queue/consumer.ts', "import type { Stored } from '../storage/store.js';\nexport type Consumed = Stored;\n");
      await write('src/tasks/csv/read.ts', "import { audio } from '../audio/probe.js';\nexport const csv = audio;\n");
      await write('src/tasks/audio/probe.ts', "export const audio = 1;\n");
      await write('src/tasks/csv/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n");
      await write('src/tasks/csv/b.ts', "import { a } from './a.js';\nexport const b = () => a;\n");
    });
    after(() => rm(tree, { recursive: true, force: true }));

    it('fails the run and names each offending import', async () => {
      const { code, output } = await cruise(tree);
      assert.notEqual(code, 0);
      assert.match(output, /no-upward-from-storage-queue-media: src\/storage\/store\.ts → src\/pipeline\/task\.ts/);
      assert.match(output, /storage-queue-media-apart: src\/queue\/consumer\.ts → src\/storage\/store\.ts/);
      assert.match(output, /kinds-apart: src\/tasks\/csv\/read\.ts → src\/tasks\/audio\/probe\.ts/);
      assert.match(output, /no-circular: src\/tasks\/csv\/a\.ts/);
    });
  });
});
