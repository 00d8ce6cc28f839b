import { z } from 'zod';

/** A field ffprobe may leave out or print oddly for a damaged file: then it is absent, not a failed parse. */
const optional = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);
const numeric = z.coerce.number().finite();

/**
 * The parts of `ffprobe -print_format json -show_format -show_streams` the video tasks read. Everything
 * else ffprobe prints (most tags, chapters, side data other than the display matrix) is ignored, and only
 * what VideoInfo names ever leaves this module.
 */
export const VideoProbeStream = z.looseObject({
  index: z.number().int(),
  codec_type: optional(z.string()),
  codec_name: optional(z.string()),
  profile: optional(z.coerce.string()),
  width: optional(z.number().int()),
  height: optional(z.number().int()),
  coded_width: optional(z.number().int()),
  coded_height: optional(z.number().int()),
  sample_aspect_ratio: optional(z.string()),
  r_frame_rate: optional(z.string()),
  avg_frame_rate: optional(z.string()),
  nb_frames: optional(numeric),
  pix_fmt: optional(z.string()),
  color_transfer: optional(z.string()),
  duration: optional(numeric),
  bit_rate: optional(numeric),
  sample_rate: optional(numeric),
  channels: optional(z.number().int()),
  channel_layout: optional(z.string()),
  /** The display matrix: `rotation` is counter-clockwise degrees (av_display_rotation_get). */
  side_data_list: optional(z.array(z.looseObject({ side_data_type: optional(z.string()), rotation: optional(numeric) }))),
  disposition: optional(z.looseObject({ attached_pic: optional(z.number()) })),
  /** `rotate` (clockwise degrees) is what ffprobe before 5.0 printed instead of the display matrix. */
  tags: optional(z.looseObject({ rotate: optional(numeric), language: optional(z.string()) })),
});
export type VideoProbeStream = z.infer<typeof VideoProbeStream>;

export const VideoProbeReport = z.looseObject({
  streams: z.array(VideoProbeStream).default([]),
  format: z.looseObject({
    format_name: z.string(),
    duration: optional(numeric),
    bit_rate: optional(numeric),
    size: optional(numeric),
  }),
});
export type VideoProbeReport = z.infer<typeof VideoProbeReport>;
