import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectRungs } from '../../src/tasks/video/ladder/rungs.js';

const sizes = (rungs: ReturnType<typeof selectRungs>) => rungs.map((r) => `${r.name} ${r.width}x${r.height}`);

test('ladder rungs: the default is every rung from 1080p down that fits, tallest first', () => {
  assert.deepEqual(sizes(selectRungs(3840, 2160, undefined)), ['1080p 1920x1080', '720p 1280x720', '480p 854x480', '360p 640x360', '240p 426x240']);
  assert.deepEqual(sizes(selectRungs(1280, 720, undefined)), ['720p 1280x720', '480p 854x480', '360p 640x360', '240p 426x240']);
  assert.deepEqual(sizes(selectRungs(640, 360, undefined)), ['360p 640x360', '240p 426x240']);
});

test('ladder rungs: a requested rung above the source is skipped, never upscaled; order and duplicates do not matter', () => {
  assert.deepEqual(sizes(selectRungs(640, 360, ['240p', '720p', '360p', '240p'])), ['360p 640x360', '240p 426x240']);
  assert.deepEqual(sizes(selectRungs(3840, 2160, ['2160p', '1440p'])), ['2160p 3840x2160', '1440p 2560x1440']);
  // 718 lines is not 720p: that rung would be upscaled.
  assert.deepEqual(sizes(selectRungs(1276, 718, ['720p', '480p'])), ['480p 854x480']);
});

test('ladder rungs: a portrait source stays portrait, its shorter side is the rung height', () => {
  assert.deepEqual(sizes(selectRungs(1080, 1920, undefined)), ['1080p 1080x1920', '720p 720x1280', '480p 480x854', '360p 360x640', '240p 240x426']);
  assert.deepEqual(sizes(selectRungs(360, 640, ['720p', '360p'])), ['360p 360x640']);
});

test('ladder rungs: other aspect ratios keep theirs, with even dimensions', () => {
  assert.deepEqual(sizes(selectRungs(1920, 800, ['720p', '480p'])), ['720p 1728x720', '480p 1152x480']);
  assert.deepEqual(sizes(selectRungs(640, 480, ['360p', '240p'])), ['360p 480x360', '240p 320x240']);
  // Sample aspect ratio already applied by the probe: 720x576 anamorphic 16:9 is 1024x576 displayed.
  assert.deepEqual(sizes(selectRungs(1024, 576, ['480p'])), ['480p 854x480']);
  for (const r of selectRungs(1000, 777, ['480p', '360p', '240p'])) {
    assert.equal(r.width % 2, 0);
    assert.equal(r.height % 2, 0);
  }
});

test('ladder rungs: no requested rung fits: one variant at the source size, named by its height only when that is a rung', () => {
  assert.deepEqual(sizes(selectRungs(640, 360, ['720p'])), ['360p 640x360']);
  assert.deepEqual(sizes(selectRungs(360, 640, ['1080p', '720p'])), ['360p 360x640']);
  const odd = selectRungs(321, 181, undefined);
  assert.deepEqual(sizes(odd), ['source 320x180']);
  assert.equal(odd[0]?.profile, 'main');
  assert.equal(odd[0]?.maxrateKbps, 400);
  const between = selectRungs(1280, 700, ['1080p']);
  assert.deepEqual(sizes(between), ['source 1280x700']);
  assert.equal(between[0]?.maxrateKbps, 2800, 'rates of the smallest rung at least as tall (720p)');
  assert.deepEqual(sizes(selectRungs(64, 48, ['240p'])), ['source 64x48']);
});

test('ladder rungs: bit rate caps and profiles per rung', () => {
  const all = selectRungs(3840, 2160, ['2160p', '1440p', '1080p', '720p', '480p', '360p', '240p']);
  assert.deepEqual(all.map((r) => [r.name, r.maxrateKbps, r.profile]), [
    ['2160p', 14000, 'high'],
    ['1440p', 8000, 'high'],
    ['1080p', 5000, 'high'],
    ['720p', 2800, 'high'],
    ['480p', 1400, 'main'],
    ['360p', 800, 'main'],
    ['240p', 400, 'main'],
  ]);
});
