/**
 * How untrusted uploads are handed to ffmpeg and ffprobe. The upload is always a private local file
 * (never a URL), read through the `file` protocol only, and only by the demuxers a kind names: playlist
 * and script demuxers (hls, concat, ffmetadata, image2, tty, subtitles…) can make ffmpeg read other
 * local files into its output, so a file that probes as one of them is refused, whatever its name.
 */

/**
 * Options placed before `-i` for every run that reads an upload. Never `-safe 0`, never a network protocol;
 * `pipe` only for an upload streamed into the tool's stdin.
 */
export function untrustedInputArgs(demuxers: readonly string[], protocols: readonly ('file' | 'pipe')[] = ['file']): readonly string[] {
  return ['-protocol_whitelist', protocols.join(','), '-format_whitelist', demuxers.join(',')];
}

/** The path as an explicit file URL, so no part of a name is ever read as a protocol or an option. */
export const fileInput = (path: string) => `file:${path}`;
