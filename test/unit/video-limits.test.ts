import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadInputError } from '../../src/contract/errors.js';
import { ConfigError, loadConfig } from '../../src/contract/env.js';
import { videoLimits } from '../../src/tasks/video/ffmpeg/toolkit.js';
import { isAllowedContainer } from '../../src/tasks/video/ffmpeg/demuxers.js';
import { clockwiseRotation, judgeVideo, rate } from '../../src/tasks/video/input/judge-video.js';
import { VideoProbeReport } from '../../src/tasks/video/input/probe-report.js';
import { progressFrames } from '../../src/tasks/video/probe-task.js';

const limits = videoLimits(loadConfig({}));

/** ffprobe's report of a 6 s 640x360 25 fps H.264 MP4 with an AAC track, as ffprobe 5.1 prints it (trimmed). */
function report(video: Record<string, unknown> = {}, format: Record<string, unknown> = {}, extra: Record<string, unknown>[] = []) {
  return VideoProbeReport.parse({
    streams: [
      {
        index: 0, codec_type: 'video', codec_name: 'h264', profile: 'High', width: 640, height: 360, coded_width: 640, coded_height: 368,
        sample_aspect_ratio: '1:1', r_frame_rate: '25/1', avg_frame_rate: '25/1', nb_frames: '150', pix_fmt: 'yuv420p', duration: '6.000000',
        bit_rate: '250000', disposition: { default: 1, attached_pic: 0 }, tags: { language: 'und', handler_name: 'VideoHandler' }, ...video,
      },
      { index: 1, codec_type: 'audio', codec_name: 'aac', sample_rate: '48000', channels: 2, channel_layout: 'stereo', bit_rate: '96000', tags: { language: 'eng', title: 'secret title' } },
      ...extra,
    ],
    format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '6.016000', bit_rate: '350000', size: '263000', tags: { title: 'My holiday', comment: 'text' }, ...format },
  });
}

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof BadInputError) return err.code;
    throw err;
  }
};

test('a video within the limits is described in our own fields, tags left out but for a language', () => {
  const info = judgeVideo(report(), 263000, limits);
  assert.deepEqual(info, {
    container: 'mov,mp4,m4a,3gp,3g2,mj2',
    durationSeconds: 6.016,
    sizeBytes: 263000,
    bitRate: 350000,
    video: {
      index: 0, codec: 'h264', profile: 'High', pixelFormat: 'yuv420p', codedWidth: 640, codedHeight: 360, width: 640, height: 360,
      frameRate: 25, rotation: 0, hdr: { isHdr: false }, frames: 150, bitRate: 250000,
    },
    audio: [{ index: 1, codec: 'aac', sampleRate: 48000, channels: 2, channelLayout: 'stereo', bitRate: 96000, language: 'eng' }],
  });
  assert.doesNotMatch(JSON.stringify(info), /secret|holiday|VideoHandler/);
});

test('each limit has its own code, and its message names the limit and its variable', () => {
  const cases: [string, string, ReturnType<typeof report>][] = [
    ['VIDEO_TOO_LONG', 'VIDEO_MAX_DURATION_SECONDS', report({}, { duration: String(3 * 3600 + 1) })],
    ['VIDEO_TOO_LARGE', 'VIDEO_MAX_PIXELS', report({ width: 4096, height: 2305 })],
    ['VIDEO_FRAME_RATE', 'VIDEO_MAX_FRAME_RATE', report({ avg_frame_rate: '240/1', r_frame_rate: '240/1' })],
    ['VIDEO_TOO_MANY_FRAMES', 'VIDEO_MAX_FRAMES', report({ nb_frames: String(3 * 3600 * 60 + 1) })],
  ];
  for (const [code, variable, probe] of cases) {
    try {
      judgeVideo(probe, 1000, limits);
      assert.fail(`${code}: accepted`);
    } catch (err) {
      assert.ok(err instanceof BadInputError, code);
      assert.equal(err.code, code);
      assert.match(err.message, new RegExp(variable));
    }
  }
  // Exactly at each limit is accepted.
  assert.equal(codeOf(() => judgeVideo(report({ width: 4096, height: 2304, avg_frame_rate: '120/1', nb_frames: '648000' }, { duration: '10800' }), 1, limits)), undefined);
});

test('the limits come from the environment', () => {
  const low = videoLimits(loadConfig({ VIDEO_MAX_DURATION_SECONDS: '2', VIDEO_MAX_PIXELS: '1000', VIDEO_MAX_FRAME_RATE: '24', VIDEO_MAX_FRAMES: '100', VIDEO_PROBE_TIMEOUT_SECONDS: '5', VIDEO_RUN_TIMEOUT_SECONDS: '10', VIDEO_RUN_TIMEOUT_RATIO: '0.5' }));
  assert.deepEqual([low.maxDurationSeconds, low.maxPixels, low.maxFrameRate, low.maxFrames, low.probeTimeoutMs], [2, 1000, 24, 100, 5000]);
  assert.equal(low.runTimeoutMs(100), 60_000);
  assert.equal(codeOf(() => judgeVideo(report(), 1, low)), 'VIDEO_TOO_LONG');
  assert.equal(codeOf(() => judgeVideo(report(), 1, { ...limits, maxPixels: 640 * 360 - 1 })), 'VIDEO_TOO_LARGE');
  assert.equal(codeOf(() => judgeVideo(report(), 1, { ...limits, maxFrameRate: 24 })), 'VIDEO_FRAME_RATE');
  assert.equal(codeOf(() => judgeVideo(report(), 1, { ...limits, maxFrames: 149 })), 'VIDEO_TOO_MANY_FRAMES');
  assert.throws(() => loadConfig({ VIDEO_MAX_PIXELS: '0' }), (err: unknown) => err instanceof ConfigError && err.message.startsWith('VIDEO_MAX_PIXELS:'));
});

test('no video stream, or only cover art, is VIDEO_NO_VIDEO', () => {
  const audioOnly = VideoProbeReport.parse({ ...report(), streams: report().streams.filter((s) => s.codec_type === 'audio') });
  assert.equal(codeOf(() => judgeVideo(audioOnly, 1, limits)), 'VIDEO_NO_VIDEO');
  const coverArt = VideoProbeReport.parse({ ...audioOnly, streams: [...audioOnly.streams, { index: 2, codec_type: 'video', codec_name: 'mjpeg', width: 600, height: 600, avg_frame_rate: '0/0', r_frame_rate: '90000/1', disposition: { attached_pic: 1 } }] });
  assert.equal(codeOf(() => judgeVideo(coverArt, 1, limits)), 'VIDEO_NO_VIDEO');
  // Cover art beside a real video stream: the real one is described.
  const both = report({}, {}, [{ index: 2, codec_type: 'video', codec_name: 'mjpeg', width: 600, height: 600, disposition: { attached_pic: 1 } }]);
  assert.equal(judgeVideo(both, 1, limits).video.codec, 'h264');
});

test('a container off the allowlist, or a report missing what every task needs, is refused', () => {
  assert.equal(codeOf(() => judgeVideo(report({}, { format_name: 'avi' }), 1, limits)), 'VIDEO_UNSUPPORTED_CONTAINER');
  assert.equal(codeOf(() => judgeVideo(report({}, { format_name: 'hls' }), 1, limits)), 'VIDEO_UNSUPPORTED_CONTAINER');
  assert.equal(codeOf(() => judgeVideo(report({ width: 0, coded_width: 0 }), 1, limits)), 'VIDEO_CORRUPT');
  assert.equal(codeOf(() => judgeVideo(report({ avg_frame_rate: '0/0', r_frame_rate: '0/0' }), 1, limits)), 'VIDEO_CORRUPT');
  assert.equal(codeOf(() => judgeVideo(report({ codec_name: undefined }), 1, limits)), 'VIDEO_CORRUPT');
  assert.equal(codeOf(() => judgeVideo(report({ duration: undefined }, { duration: undefined }), 1, limits)), 'VIDEO_CORRUPT');
  assert.ok(isAllowedContainer('matroska,webm') && isAllowedContainer('mpegts') && !isAllowedContainer('mp3') && !isAllowedContainer('concat'));
});

test('a hostile tag neither breaks the report nor reaches analysis.json', () => {
  const info = judgeVideo(report({ tags: { rotate: 'ninety', language: '<script>' } }, {}, [{ index: 2, codec_type: 'audio', codec_name: 'opus', tags: { language: 'fr-CA' } }]), 1, limits);
  assert.equal(info.video.rotation, 0);
  assert.deepEqual(info.audio.map((a) => a.language), ['eng', 'fr-CA']);
});

test('rotation is clockwise: the display matrix counts counter-clockwise, the old rotate tag clockwise', () => {
  const matrix = (rotation: number) => ({ side_data_list: [{ side_data_type: 'Display Matrix', rotation }] });
  assert.equal(clockwiseRotation(matrix(90)), 270);
  assert.equal(clockwiseRotation(matrix(-90)), 90);
  assert.equal(clockwiseRotation(matrix(180)), 180);
  assert.equal(clockwiseRotation(matrix(-180)), 180);
  assert.equal(clockwiseRotation(matrix(-89.99)), 90);
  assert.equal(clockwiseRotation({ tags: { rotate: 90 } }), 90);
  assert.equal(clockwiseRotation({ tags: { rotate: 270 } }), 270);
  assert.equal(clockwiseRotation({}), 0);
  // A phone held upright: coded landscape, displayed portrait.
  const upright = judgeVideo(report({ width: 1920, height: 1080, ...matrix(-90) }), 1, limits).video;
  assert.deepEqual([upright.codedWidth, upright.codedHeight, upright.width, upright.height, upright.rotation], [1920, 1080, 1080, 1920, 90]);
});

test('display size applies the sample aspect ratio; HDR is PQ or HLG; frames fall back to duration × rate', () => {
  const anamorphic = judgeVideo(report({ width: 720, height: 576, sample_aspect_ratio: '16:11' }), 1, limits).video;
  assert.deepEqual([anamorphic.width, anamorphic.height], [1047, 576]);
  assert.deepEqual(judgeVideo(report({ sample_aspect_ratio: '0:1' }), 1, limits).video.width, 640);
  assert.deepEqual(judgeVideo(report({ color_transfer: 'smpte2084' }), 1, limits).video.hdr, { transfer: 'smpte2084', isHdr: true });
  assert.deepEqual(judgeVideo(report({ color_transfer: 'arib-std-b67' }), 1, limits).video.hdr, { transfer: 'arib-std-b67', isHdr: true });
  assert.deepEqual(judgeVideo(report({ color_transfer: 'bt709' }), 1, limits).video.hdr, { transfer: 'bt709', isHdr: false });
  const mkv = judgeVideo(report({ nb_frames: undefined, duration: undefined, avg_frame_rate: '30000/1001' }, { format_name: 'matroska,webm', duration: '10.010000' }), 1, limits).video;
  assert.deepEqual([mkv.frames, mkv.frameRate], [300, 29.97]);
  assert.equal(rate('90000/1'), 90000);
  assert.equal(rate('1/0'), undefined);
  assert.equal(rate('x'), undefined);
});

test('the decoded frame count is the last frame= of the progress report', () => {
  assert.equal(progressFrames('frame=10\nfps=0.0\nprogress=continue\nframe=50\nprogress=end\n'), 50);
  assert.equal(progressFrames('progress=end\n'), 0);
});
