import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ebur128SummaryParser, progressSeconds, runMarker, SilenceParser } from '../../src/tasks/audio/analysis/filter-reports.js';

const marker = 'c0ffee0123456789';
// As ffmpeg 5.1 prints it for `ebur128@<marker>` (fluent-ffmpeg hands over one line at a time, split at \r and \n).
const summary = (prefix = `[ebur128@${marker} @ 0x5617e8b90840]`) => `${prefix} Summary:

  Integrated loudness:
    I:         -21.0 LUFS
    Threshold: -31.1 LUFS

  Loudness range:
    LRA:         1.8 LU
    Threshold: -41.8 LUFS
    LRA low:   -22.6 LUFS
    LRA high:  -20.8 LUFS

  True peak:
    Peak:      -20.0 dBFS`;

/** What ffmpeg prints for a tag whose value holds `text`: its first line after the key, the others after an indented colon. */
const asTag = (key: string, text: string) => text.split('\n').map((line, i) => (i === 0 ? `    ${key.padEnd(16)}: ${line}` : `${' '.repeat(20)}: ${line}`));

test('ebur128 summary: integrated loudness, range, true peak', () => {
  const p = new Ebur128SummaryParser(marker);
  for (const line of [`[ebur128@${marker} @ 0x1] t: 0.1 TARGET:-23 LUFS M:-120.7 S:-120.7 I: -70.0 LUFS`, ...summary().split('\n')]) p.line(line);
  assert.deepEqual(p.result(), { integratedLufs: -21, rangeLu: 1.8, truePeakDbtp: -20 });
});

test('ebur128 summary of digital silence: nothing measurable', () => {
  const p = new Ebur128SummaryParser(marker);
  for (const line of summary().replace('-21.0 LUFS', '-70.0 LUFS').replace('-20.0 dBFS', '-inf dBFS').split('\n')) p.line(line);
  assert.deepEqual(p.result(), { integratedLufs: null, rangeLu: 1.8, truePeakDbtp: null });
});

test('ebur128: no summary means no result', () => {
  const p = new Ebur128SummaryParser(marker);
  p.line('    I:         -21.0 LUFS');
  assert.equal(p.result(), undefined);
});

test("ebur128: a summary without this run's marker is not one, whether a tag forged it or another instance printed it", () => {
  const forged = summary('[Parsed_ebur128_1 @ 0x1]').replace('-21.0', '-5.0').replace('-20.0 dBFS', '-1.0 dBFS');
  for (const lines of [forged.split('\n'), asTag('title', forged), summary('[ebur128@0000000000000000 @ 0x1]').split('\n')]) {
    const p = new Ebur128SummaryParser(marker);
    for (const line of lines) p.line(line);
    assert.equal(p.result(), undefined, lines[0]);
  }
  // A forgery printed before the run's own summary (tags are printed first) changes nothing in it.
  const p = new Ebur128SummaryParser(marker);
  for (const line of [...asTag('comment', `[ebur128@${marker.slice(0, 8)} @ 0x1] Summary:\n  Integrated loudness:\n    I:   -5.0 LUFS`), ...summary().split('\n')]) p.line(line);
  assert.deepEqual(p.result(), { integratedLufs: -21, rangeLu: 1.8, truePeakDbtp: -20 });
});

test('run markers are fresh for each run', () => {
  const markers = new Set(Array.from({ length: 100 }, runMarker));
  assert.equal(markers.size, 100);
  for (const m of markers) assert.match(m, /^[0-9a-f]{16}$/);
});

test('silencedetect via ametadata: spans, and one still open at the end runs to the end', () => {
  const p = new SilenceParser();
  // As `ametadata=mode=print:file=…` writes them after silencedetect (ffmpeg 5.1).
  for (const line of [
    'frame:97   pts:110639  pts_time:2.50882',
    'lavfi.silence_start=3.50621',
    'frame:116  pts:132527  pts_time:3.00515',
    'lavfi.silence_end=4.50467',
    'lavfi.silence_duration=0.998458',
    'lavfi.silence_start=-0.01',
    'lavfi.silence_end=0.7',
    'lavfi.silence_start=9.25',
  ]) p.line(line);
  assert.deepEqual(p.result(10), [
    { startSeconds: 3.506, endSeconds: 4.505, durationSeconds: 0.998 },
    { startSeconds: 0, endSeconds: 0.7, durationSeconds: 0.7 },
    { startSeconds: 9.25, endSeconds: 10, durationSeconds: 0.75 },
  ]);
});

test("silencedetect: stderr's report lines, as a tag can forge them, are not read", () => {
  const p = new SilenceParser();
  const forged = '[silencedetect @ 0x55] silence_start: 0.5\n[silencedetect @ 0x55] silence_end: 1.5 | silence_duration: 1';
  for (const line of [...forged.split('\n'), ...asTag('title', forged), ' lavfi.silence_start=2 trailing']) p.line(line);
  assert.deepEqual(p.result(10), []);
});

test('progress report: the last decoded time, in seconds', () => {
  const report = ['out_time_us=N/A', 'out_time_ms=N/A', 'progress=continue', 'out_time_us=1500000', 'progress=continue', 'out_time_us=3723450000', 'out_time_ms=3723450000', 'out_time=01:02:03.450000', 'progress=end'].join('\n');
  assert.equal(progressSeconds(report), 3723.45);
  assert.equal(progressSeconds(''), 0);
});
