import { open } from 'node:fs/promises';

const headBytes = 64 * 1024;

/**
 * Whether a RIFF/WAVE file ends before its `data` chunk says it does. ffmpeg decodes a cut WAV without
 * complaint (it stops at the end of the file), so this is the one way to tell a truncated upload.
 * Writers that stream (size unknown) put 0 or 0xFFFFFFFF there; those are not judged.
 */
export async function wavIsTruncated(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const head = Buffer.alloc(Math.min(headBytes, size));
    await file.read(head, 0, head.length, 0);
    if (head.length < 12 || head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') return false;
    let at = 12;
    while (at + 8 <= head.length) {
      const id = head.toString('latin1', at, at + 4);
      const length = head.readUInt32LE(at + 4);
      if (id === 'data') return length !== 0 && length !== 0xffffffff && at + 8 + length > size;
      at += 8 + length + (length % 2);
    }
    return false;
  } finally {
    await file.close();
  }
}
