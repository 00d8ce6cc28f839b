import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterOptionValue, parseFrameStats } from '../../src/tasks/video/stills/frame-stats.js';
import {
  choosePoster,
  defaultStillsOptions,
  fitWithin,
  framesForTiles,
  isUsablePoster,
  planThumbnails,
  posterCandidateTimes,
  thumbnailsVtt,
  vttTimestamp,
  type ThumbnailPlan,
} from '../../src/tasks/video/stills/layout.js';

/** What every plan must hold: contiguous cues from 0 to the duration, each tile its own place inside the sheet. */
function assertCoherent(plan: ThumbnailPlan, duration: number) {
  assert.equal(plan.cues.length, plan.count);
  assert.equal(plan.cues[0]?.start, 0);
  assert.ok(Math.abs((plan.cues.at(-1)?.end ?? 0) - Math.max(duration, 0.001)) < 0.0011, `ends at ${plan.cues.at(-1)?.end}, not ${duration}`);
  plan.cues.forEach((cue, i) => {
    if (i > 0) assert.equal(cue.start, plan.cues[i - 1]?.end, `cue ${i} starts where ${i - 1} ends`);
    assert.ok(cue.end > cue.start);
    assert.ok(cue.x + cue.w <= plan.sheet.width && cue.y + cue.h <= plan.sheet.height, `cue ${i} inside the sheet`);
    assert.equal(cue.w, plan.tile.width);
    assert.equal(cue.h, plan.tile.height);
  });
  assert.equal(new Set(plan.cues.map((c) => `${c.x},${c.y}`)).size, plan.count, 'one place per tile');
  assert.equal(plan.sheet.width, plan.columns * plan.tile.width);
  assert.equal(plan.sheet.height, plan.rows * plan.tile.height);
  assert.ok(plan.columns * plan.rows >= plan.count && plan.columns * (plan.rows - 1) < plan.count, 'no empty row');
}

test('fitWithin: longer side bounded, aspect and orientation kept, even sizes, never enlarged', () => {
  assert.deepEqual(fitWithin({ width: 1920, height: 1080 }, 1280), { width: 1280, height: 720 });
  assert.deepEqual(fitWithin({ width: 1080, height: 1920 }, 1280), { width: 720, height: 1280 });
  assert.deepEqual(fitWithin({ width: 640, height: 360 }, 1280), { width: 640, height: 360 });
  assert.deepEqual(fitWithin({ width: 1920, height: 1080 }, 160), { width: 160, height: 90 });
  assert.deepEqual(fitWithin({ width: 360, height: 640 }, 160), { width: 90, height: 160 });
  assert.deepEqual(fitWithin({ width: 1440, height: 1080 }, 160), { width: 160, height: 120 });
  // Odd display sizes (anamorphic sources) come out even.
  assert.deepEqual(fitWithin({ width: 853, height: 480 }, 1280), { width: 854, height: 480 });
  assert.deepEqual(fitWithin({ width: 3, height: 1 }, 160), { width: 4, height: 2 });
});

test('planThumbnails: one tile every 2 s for short videos, at most 100 tiles for long ones', () => {
  const hd = { width: 1280, height: 720 };
  const eight = planThumbnails(8, hd);
  assert.equal(eight.interval, 2);
  assert.equal(eight.count, 4);
  assert.deepEqual([eight.columns, eight.rows], [4, 1]);
  assert.deepEqual(eight.sheet, { width: 640, height: 90 });
  assertCoherent(eight, 8);

  const minute = planThumbnails(60, hd);
  assert.equal(minute.count, 30);
  assert.deepEqual([minute.columns, minute.rows], [10, 3]);
  assertCoherent(minute, 60);

  const odd = planThumbnails(61.3, hd);
  assert.equal(odd.count, 31);
  assert.deepEqual([odd.columns, odd.rows], [10, 4]);
  assert.equal(odd.cues.at(-1)?.start, 60);
  assert.equal(odd.cues.at(-1)?.end, 61.3);
  assertCoherent(odd, 61.3);

  const hour = planThumbnails(3600, hd);
  assert.equal(hour.interval, 36);
  assert.equal(hour.count, 100);
  assert.deepEqual(hour.sheet, { width: 1600, height: 900 });
  assertCoherent(hour, 3600);

  // Long and not a multiple: still 100 tiles (float error must not make 101), last cue ends at the duration.
  for (const duration of [200, 200.0000001, 1234.567, 10_799.96, 3 * 3600]) {
    const plan = planThumbnails(duration, hd);
    assert.equal(plan.count, 100, `${duration} s`);
    assertCoherent(plan, duration);
  }
});

test('planThumbnails: a video shorter than the interval gets one cue; a zero length one too', () => {
  const one = planThumbnails(1, { width: 640, height: 360 });
  assert.equal(one.count, 1);
  assert.deepEqual(one.cues, [{ start: 0, end: 1, x: 0, y: 0, w: 160, h: 90 }]);
  assertCoherent(one, 1);
  const exact = planThumbnails(2, { width: 640, height: 360 });
  assert.equal(exact.count, 1);
  const none = planThumbnails(0, { width: 640, height: 360 });
  assert.equal(none.count, 1);
  assert.equal(none.cues[0]?.end, 0.001, 'a cue must end after it starts');
});

test('planThumbnails: portrait tiles for a portrait display', () => {
  const plan = planThumbnails(20, { width: 1080, height: 1920 });
  assert.deepEqual(plan.tile, { width: 90, height: 160 });
  assert.deepEqual(plan.sheet, { width: 900, height: 160 });
  assertCoherent(plan, 20);
});

test('planThumbnails: options change the bounds', () => {
  const plan = planThumbnails(100, { width: 1920, height: 1080 }, { ...defaultStillsOptions, maxTiles: 10, columns: 4, tileLongSide: 320 });
  assert.equal(plan.interval, 10);
  assert.equal(plan.count, 10);
  assert.deepEqual([plan.columns, plan.rows], [4, 3]);
  assert.deepEqual(plan.tile, { width: 320, height: 180 });
  assertCoherent(plan, 100);
});

test('vttTimestamp and thumbnailsVtt: WebVTT header, cue times, media fragments', () => {
  assert.equal(vttTimestamp(0), '00:00:00.000');
  assert.equal(vttTimestamp(61.3), '00:01:01.300');
  assert.equal(vttTimestamp(3 * 3600 + 59.9996), '03:01:00.000');
  assert.equal(vttTimestamp(2.0005), '00:00:02.001');
  const vtt = thumbnailsVtt(planThumbnails(5, { width: 640, height: 360 }), 'thumbnails.jpg');
  assert.equal(
    vtt,
    [
      'WEBVTT',
      '',
      '00:00:00.000 --> 00:00:02.000',
      'thumbnails.jpg#xywh=0,0,160,90',
      '',
      '00:00:02.000 --> 00:00:04.000',
      'thumbnails.jpg#xywh=160,0,160,90',
      '',
      '00:00:04.000 --> 00:00:05.000',
      'thumbnails.jpg#xywh=320,0,160,90',
      '',
    ].join('\n'),
  );
});

test('framesForTiles: own interval, else the latest keyframe before, else the first', () => {
  // Keyframes every 10 s, tiles every 2 s: each tile shows the keyframe a player would show there.
  assert.deepEqual(framesForTiles([0, 10, 20], 2, 15), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
  // One keyframe only (short clips): every tile is it.
  assert.deepEqual(framesForTiles([0], 2, 4), [0, 0, 0, 0]);
  // The first frame after the first interval: the early tiles show it.
  assert.deepEqual(framesForTiles([4.5, 6.1], 2, 4), [0, 0, 0, 1]);
  // A frame before 0 (an edit list) counts as the first interval's, and the later one in it wins.
  assert.deepEqual(framesForTiles([-0.04, 0.5, 2.2], 2, 2), [1, 2]);
  assert.throws(() => framesForTiles([], 2, 3), /no frames/);
});

test('poster choice: the first usable candidate, else the brightest', () => {
  const black = { average: 16, low: 16, high: 16 };
  const dim = { average: 30, low: 16, high: 35 };
  const flatWhite = { average: 235, low: 235, high: 235 };
  const picture = { average: 120, low: 30, high: 220 };
  const other = { average: 90, low: 20, high: 200 };
  assert.equal(isUsablePoster(black), false);
  assert.equal(isUsablePoster(dim), false);
  assert.equal(isUsablePoster(flatWhite), false);
  assert.equal(isUsablePoster(picture), true);
  assert.equal(choosePoster([{ stats: black, id: 'a' }, { stats: other, id: 'b' }, { stats: picture, id: 'c' }])?.id, 'b');
  assert.equal(choosePoster([{ stats: black, id: 'a' }, { stats: dim, id: 'b' }, { stats: black, id: 'c' }])?.id, 'b', 'all dark: the brightest');
  assert.equal(choosePoster([]), undefined);
});

test('posterCandidateTimes: 10, 25, 50, 75 % in, a frame short of the end, then the first frame', () => {
  assert.deepEqual(posterCandidateTimes(8, 25), [0.8, 2, 4, 6, 0]);
  assert.deepEqual(posterCandidateTimes(1, 25), [0.1, 0.25, 0.5, 0.75, 0]);
  assert.deepEqual(posterCandidateTimes(0.04, 25), [0]);
  assert.deepEqual(posterCandidateTimes(0, 30), [0]);
});

test('parseFrameStats: frames of a metadata report; incomplete ones left out', () => {
  const report = [
    'frame:0    pts:0       pts_time:0',
    'lavfi.signalstats.YMIN=12',
    'lavfi.signalstats.YLOW=29',
    'lavfi.signalstats.YAVG=126.98',
    'lavfi.signalstats.YHIGH=226',
    'frame:1    pts:512     pts_time:2.04',
    'lavfi.signalstats.YAVG=16',
    'frame:2    pts:NOPTS   pts_time:NOPTS',
    'lavfi.signalstats.YLOW=16',
    'lavfi.signalstats.YAVG=16',
    'lavfi.signalstats.YHIGH=16',
    'frame:3    pts:1024    pts_time:4.08',
    'lavfi.signalstats.YLOW=16',
    'lavfi.signalstats.YAVG=16.5',
    'lavfi.signalstats.YHIGH=17',
    '',
  ].join('\n');
  assert.deepEqual(parseFrameStats(report), [
    { time: 0, luma: { average: 126.98, low: 29, high: 226 } },
    { time: 4.08, luma: { average: 16.5, low: 16, high: 17 } },
  ]);
  assert.deepEqual(parseFrameStats(''), []);
});

test('filterOptionValue: a path stays one option value in a filter graph', () => {
  assert.equal(filterOptionValue('/tmp/a/stats.txt'), '/tmp/a/stats.txt');
  assert.equal(filterOptionValue("/tmp/x:y,z'[1];"), "/tmp/x\\\\:y\\,z\\\\\\'\\[1\\]\\;");
});
