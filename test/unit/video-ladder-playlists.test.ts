import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  avcCodecOf,
  measureBandwidth,
  parseMediaPlaylist,
  writeMasterPlaylist,
  writeMediaPlaylist,
} from '../../src/tasks/video/ladder/playlists.js';
import { gopFrames, ladderFilter, ladderOutputArgs } from '../../src/tasks/video/ladder/ladder-args.js';
import { selectRungs } from '../../src/tasks/video/ladder/rungs.js';

const ffmpegPlaylist = [
  '#EXTM3U',
  '#EXT-X-VERSION:7',
  '#EXT-X-TARGETDURATION:4',
  '#EXT-X-MEDIA-SEQUENCE:0',
  '#EXT-X-PLAYLIST-TYPE:VOD',
  '#EXT-X-MAP:URI="init.mp4"',
  '#EXTINF:4.000000,',
  'seg_00000.m4s',
  '#EXTINF:4.480000,',
  'seg_00001.m4s',
  '#EXTINF:1.000000,',
  'seg_00002.m4s',
  '#EXT-X-ENDLIST',
  '',
].join('\n');

test('ladder playlists: ffmpeg\'s variant playlist is read and rewritten with an honest target duration', () => {
  const parsed = parseMediaPlaylist(ffmpegPlaylist);
  assert.equal(parsed.map, 'init.mp4');
  assert.deepEqual(parsed.segments.map((s) => [s.uri, s.durationSeconds]), [['seg_00000.m4s', 4], ['seg_00001.m4s', 4.48], ['seg_00002.m4s', 1]]);
  const text = writeMediaPlaylist(parsed);
  assert.match(text, /^#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:5\n/);
  assert.match(text, /#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:4.000000,\nseg_00000.m4s\n/);
  assert.ok(text.endsWith('seg_00002.m4s\n#EXT-X-ENDLIST\n'));
  // An exact 4 s segment needs no 5.
  assert.match(writeMediaPlaylist({ ...parsed, segments: parsed.segments.slice(0, 1) }), /TARGETDURATION:4\n/);
  assert.deepEqual(parseMediaPlaylist(text), parsed, 'our own playlist reads back the same');
});

test('ladder playlists: an incomplete or foreign playlist is refused', () => {
  assert.throws(() => parseMediaPlaylist(ffmpegPlaylist.replace('#EXT-X-ENDLIST', '')));
  assert.throws(() => parseMediaPlaylist(ffmpegPlaylist.replace('#EXT-X-MAP:URI="init.mp4"', '')));
  assert.throws(() => parseMediaPlaylist(ffmpegPlaylist.replace('seg_00001.m4s', '../../etc/passwd')));
  assert.throws(() => parseMediaPlaylist(ffmpegPlaylist.replace('#EXTINF:4.480000,\n', '')));
  assert.throws(() => parseMediaPlaylist('<html>'));
});

test('ladder playlists: bandwidths measured from the segments: average over everything, peak the busiest segment', () => {
  const bw = measureBandwidth([{ bytes: 100_000, durationSeconds: 4 }, { bytes: 300_000, durationSeconds: 4 }, { bytes: 100_000, durationSeconds: 2 }], 4);
  assert.equal(bw.average, Math.ceil((500_000 * 8) / 10));
  assert.equal(bw.peak, 600_000);
  // A last segment under half a segment (one keyframe) is measured together with the one before.
  const tail = measureBandwidth([{ bytes: 100_000, durationSeconds: 4 }, { bytes: 100_000, durationSeconds: 4 }, { bytes: 20_000, durationSeconds: 0.04 }], 4);
  assert.equal(tail.peak, Math.ceil((120_000 * 8) / 4.04));
  assert.ok(tail.peak >= tail.average);
  const single = measureBandwidth([{ bytes: 5000, durationSeconds: 0.5 }], 4);
  assert.deepEqual(single, { peak: 80_000, average: 80_000 });
  assert.throws(() => measureBandwidth([], 4));
});

test('ladder playlists: the codec string comes from the avcC box of the init section', () => {
  const avcC = Buffer.concat([Buffer.from([0, 0, 0, 0x30]), Buffer.from('avcC', 'latin1'), Buffer.from([1, 0x64, 0x00, 0x1f, 0xff])]);
  const init = Buffer.concat([Buffer.alloc(40, 0x20), avcC, Buffer.alloc(16)]);
  assert.equal(avcCodecOf(init), 'avc1.64001f');
  const main = Buffer.from(avcC);
  main[9] = 0x4d;
  main[10] = 0x40;
  main[11] = 0x1e;
  assert.equal(avcCodecOf(main), 'avc1.4d401e');
  assert.throws(() => avcCodecOf(Buffer.alloc(100)), /no avcC/);
});

test('ladder playlists: the master lists every variant in order with its attributes', () => {
  const text = writeMasterPlaylist([
    { uri: '360p/index.m3u8', bandwidth: 900_000, averageBandwidth: 700_000, width: 640, height: 360, codecs: ['avc1.4d401e', 'mp4a.40.2'], frameRate: 25 },
    { uri: '240p/index.m3u8', bandwidth: 450_000, averageBandwidth: 300_000, width: 426, height: 240, codecs: ['avc1.4d4015', 'mp4a.40.2'], frameRate: 30000 / 1001 },
  ]);
  assert.equal(
    text,
    [
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      '#EXT-X-INDEPENDENT-SEGMENTS',
      '#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=700000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2",FRAME-RATE=25.000',
      '360p/index.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=450000,AVERAGE-BANDWIDTH=300000,RESOLUTION=426x240,CODECS="avc1.4d4015,mp4a.40.2",FRAME-RATE=29.970',
      '240p/index.m3u8',
      '',
    ].join('\n'),
  );
  assert.throws(() => writeMasterPlaylist([]));
  assert.throws(() => writeMasterPlaylist([{ uri: '../x', bandwidth: 1, averageBandwidth: 1, width: 2, height: 2, codecs: ['avc1.640028'], frameRate: 25 }]));
});

test('ladder args: one decode split per rung, one HLS output each, keyframes forced at every segment boundary', () => {
  const rungs = selectRungs(1080, 1920, ['720p', '360p']);
  assert.equal(ladderFilter(rungs), '[0:v:0]split=2[s0][s1];[s0]scale=720:1280,setsar=1,format=yuv420p[v0];[s1]scale=360:640,setsar=1,format=yuv420p[v1]');
  assert.equal(ladderFilter(rungs.slice(1)), '[0:v:0]scale=360:640,setsar=1,format=yuv420p[v0]');
  assert.equal(gopFrames(30000 / 1001), 120);
  assert.equal(gopFrames(25), 100);
  const { outputArgs, output } = ladderOutputArgs({ rungs, dir: '/t', frameRate: 25, audio: { sampleRate: 44100, channels: 6 }, maxSeconds: 60 });
  assert.equal(output, '/t/360p/index.m3u8');
  assert.equal(outputArgs.filter((a) => a === '/t/720p/index.m3u8').length, 1, 'the first output inside the arguments');
  assert.equal(outputArgs.filter((a) => a === 'expr:gte(t,n_forced*4)').length, 2);
  const at = (flag: string) => outputArgs.flatMap((a, i) => (a === flag ? [outputArgs[i + 1]] : []));
  assert.deepEqual(at('-g'), ['100', '100']);
  assert.deepEqual(at('-keyint_min'), ['100', '100']);
  assert.deepEqual(at('-sc_threshold'), ['0', '0']);
  assert.deepEqual(at('-map'), ['[v0]', '0:a:0', '[v1]', '0:a:0']);
  assert.deepEqual(at('-ar'), ['44100', '44100']);
  assert.deepEqual(at('-ac'), ['2', '2']);
  assert.deepEqual(at('-profile:v'), ['high', 'main']);
  assert.deepEqual(at('-hls_segment_filename'), ['/t/720p/seg_%05d.m4s', '/t/360p/seg_%05d.m4s']);
  const silent = ladderOutputArgs({ rungs, dir: '/t', frameRate: 25, maxSeconds: 60 });
  assert.ok(!silent.outputArgs.includes('0:a:0'), 'no audio mapped without audio');
});
