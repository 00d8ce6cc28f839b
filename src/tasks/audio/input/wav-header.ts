import { open } from 'node:fs/promises';

const headBytes = 64 * 1024;

/** What a RIFF/WAVE file says about itself before anything decodes it. */
export interface WavHeader {
  /** From the `fmt ` chunk, when it comes before `data` within the first 64 KiB. */
  readonly format?: { readonly sampleRate: number; readonly channels: number };
  /**
   * The file ends before its `data` chunk says it does. ffmpeg decodes a cut WAV without complaint (it
   * stops at the end of the file), so this is the one way to tell a truncated upload. Writers that
   * stream (size unknown) put 0 or 0xFFFFFFFF there; those are not judged.
   */
  readonly truncated: boolean;
}

/** The header of a RIFF/WAVE file; undefined for anything else. Reads the first 64 KiB only. */
export async function readWavHeader(path: string): Promise<WavHeader | undefined> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const head = Buffer.alloc(Math.min(headBytes, size));
    await file.read(head, 0, head.length, 0);
    return parseWavHeader(head, size);
  } finally {
    await file.close();
  }
}

/** `head` is the start of a file of `size` bytes. */
export function parseWavHeader(head: Buffer, size: number): WavHeader | undefined {
  if (head.length < 12 || head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') return undefined;
  let format: WavHeader['format'];
  let at = 12;
  while (at + 8 <= head.length) {
    const id = head.toString('latin1', at, at + 4);
    const length = head.readUInt32LE(at + 4);
    // WAVEFORMATEX and WAVEFORMATEXTENSIBLE both start: format tag (2), channels (2), sample rate (4).
    if (id === 'fmt ' && length >= 8 && at + 16 <= head.length) {
      format = { channels: head.readUInt16LE(at + 10), sampleRate: head.readUInt32LE(at + 12) };
    }
    if (id === 'data') return { ...(format ? { format } : {}), truncated: length !== 0 && length !== 0xffffffff && at + 8 + length > size };
    at += 8 + length + (length % 2);
  }
  return { ...(format ? { format } : {}), truncated: false };
}
