import type { JobKind } from './messages.js';

/** How many leading bytes detection needs. */
export const sniffBytes = 4096;

const ascii = (buf: Buffer, at: number, text: string) => buf.subarray(at, at + text.length).toString('latin1') === text;

/** Containers and streams ffmpeg reads as audio, by their magic bytes. */
function looksLikeAudio(b: Buffer): boolean {
  if (ascii(b, 0, 'RIFF') && (ascii(b, 8, 'WAVE') || ascii(b, 8, 'RF64'))) return true;
  if (ascii(b, 0, 'RF64') || ascii(b, 0, 'BW64')) return true;
  if (ascii(b, 0, 'FORM') && (ascii(b, 8, 'AIFF') || ascii(b, 8, 'AIFC'))) return true;
  if (ascii(b, 0, 'ID3') || ascii(b, 0, 'fLaC') || ascii(b, 0, 'OggS') || ascii(b, 0, 'caff')) return true;
  if (ascii(b, 4, 'ftyp')) return true; // MP4/M4A/3GP
  if (b.length >= 4 && b.readUInt32BE(0) === 0x1a45dfa3) return true; // Matroska/WebM
  if (ascii(b, 0, '#!AMR') || ascii(b, 0, 'MAC ') || ascii(b, 0, 'wvpk') || ascii(b, 0, '.snd')) return true;
  // MPEG audio frame sync (MP3 without ID3) or ADTS AAC: 11 set bits.
  if (b.length >= 2 && b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0) return true;
  return false;
}

/** UTF-16 with a BOM (the CSV stage transcodes it); checked first, since FF FE also looks like an MPEG frame sync. */
const hasUtf16Bom = (b: Buffer) => (b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff);

function looksLikeText(b: Buffer): boolean {
  if (b.length === 0) return false;
  let control = 0;
  for (const byte of b) {
    if (byte === 0) return false;
    if (byte < 9 || (byte > 13 && byte < 32)) control += 1;
  }
  return control / b.length < 0.01;
}

/**
 * The kind of an upload from its first bytes: audio by container magic, CSV when it is gzip or text.
 * Undefined for anything else; the CSV and audio stages check the content in depth.
 */
export function detectKind(head: Buffer): JobKind | undefined {
  if (hasUtf16Bom(head)) return 'csv';
  if (looksLikeAudio(head)) return 'audio';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'csv';
  if (looksLikeText(head)) return 'csv';
  return undefined;
}
