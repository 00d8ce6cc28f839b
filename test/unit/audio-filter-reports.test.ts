import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ebur128SummaryParser, progressSeconds, SilenceParser } from '../../src/tasks/audio/filter-reports.js';

// As ffmpeg 5.1 prints them (fluent-ffmpeg hands over one line at a time, split at \r and \n).
const summary = `[Parsed_ebur128_1 @ 0x5617e8b90840] Summary:

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

test('ebur128 summary: integrated loudness, range, true peak', () => {
  const p = new Ebur128SummaryParser();
  for (const line of ['[Parsed_ebur128_1 @ 0x1] t: 0.1 TARGET:-23 LUFS M:-120.7 S:-120.7 I: -70.0 LUFS', ...summary.split('\n')]) p.line(line);
  assert.deepEqual(p.result(), { integratedLufs: -21, rangeLu: 1.8, truePeakDbtp: -20 });
});

test('ebur128 summary of digital silence: nothing measurable', () => {
  const p = new Ebur128SummaryParser();
  for (const line of summary.replace('-21.0 LUFS', '-70.0 LUFS').replace('-20.0 dBFS', '-inf dBFS').split('\n')) p.line(line);
  assert.deepEqual(p.result(), { integratedLufs: null, rangeLu: 1.8, truePeakDbtp: null });
});

test('ebur128: no summary means no result', () => {
  const p = new Ebur128SummaryParser();
  p.line('    I:         -21.0 LUFS');
  assert.equal(p.result(), undefined);
});

test('silencedetect: spans, and one still open at the end runs to the end', () => {
  const p = new SilenceParser();
  for (const line of [
    'size=N/A time=00:00:00.00 bitrate=N/A speed=N/A    ',
    '[silencedetect @ 0x55] silence_start: 3.50621',
    '[silencedetect @ 0x55] silence_end: 4.50467 | silence_duration: 0.998458',
    '[silencedetect @ 0x55] silence_start: -0.01',
    '[silencedetect @ 0x55] silence_end: 0.7 | silence_duration: 0.71',
    '[silencedetect @ 0x55] silence_start: 9.25',
  ]) p.line(line);
  assert.deepEqual(p.result(10), [
    { startSeconds: 3.506, endSeconds: 4.505, durationSeconds: 0.998 },
    { startSeconds: 0, endSeconds: 0.7, durationSeconds: 0.7 },
    { startSeconds: 9.25, endSeconds: 10, durationSeconds: 0.75 },
  ]);
});

test('progress line: decoded time', () => {
  assert.equal(progressSeconds('size=N/A time=01:02:03.45 bitrate=N/A speed=153x'), 3723.45);
  assert.equal(progressSeconds('[wav @ 0x1] something'), undefined);
});
