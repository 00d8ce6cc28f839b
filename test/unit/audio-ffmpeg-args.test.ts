import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { filterOptionValue, progressTo } from '../../src/tasks/audio/input/ffmpeg-args.js';
import { progressSeconds } from '../../src/tasks/audio/analysis/filter-reports.js';
import { fileInput } from '../../src/media/untrusted-input.js';
import { binaries } from '../helpers/audio-media.js';

const run = promisify(execFile);
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audio-args-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test("a filter's file option reaches ffmpeg as one path, whatever characters the path holds", async () => {
  // Every character the option parser or the graph parser gives a meaning to.
  const odd = join(dir, "a:b,c;d[e]f'g\\h i=j");
  await mkdir(odd);
  const target = join(odd, 'silence.txt');
  const graph = `silencedetect=noise=-50dB:duration=0.5,ametadata=mode=print:file=${filterOptionValue(fileInput(target))},anull`;
  await run(binaries.ffmpeg, ['-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=8000', '-t', '2', '-af', graph, '-f', 'null', '-']);
  assert.match(await readFile(target, 'utf8'), /^lavfi\.silence_start=0$/m);
});

test("-progress writes ffmpeg's decoded length to a file of ours", async () => {
  const report = join(dir, 'run.progress');
  await run(binaries.ffmpeg, ['-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=8000', ...progressTo(report), '-t', '2.5', '-f', 'null', '-']);
  assert.equal(progressSeconds(await readFile(report, 'utf8')), 2.5);
});
