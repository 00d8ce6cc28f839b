import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { detectKind as detectAmong } from '../../src/pipeline/kinds.js';
import { kindDefinitions } from '../../src/tasks/index.js';

/**
 * Detection as the worker runs it: among the kinds its plug-ins define, in their order. The content of
 * these heads holds no video stream, so a kind that asks to confirm finds none.
 */
const detectKind = (head: Buffer) => detectAmong(kindDefinitions, head, async () => false);

const wavHeader = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WAVEfmt ')]);

test('audio containers are recognised by their magic bytes', async () => {
  assert.equal(await detectKind(wavHeader), 'audio');
  assert.equal(await detectKind(Buffer.from('ID3\x04\x00rest')), 'audio');
  assert.equal(await detectKind(Buffer.from([0xff, 0xfb, 0x90, 0x64])), 'audio');
  assert.equal(await detectKind(Buffer.from('fLaC\x00\x00')), 'audio');
  assert.equal(await detectKind(Buffer.from('OggS\x00\x02')), 'audio');
  assert.equal(await detectKind(Buffer.concat([Buffer.from([0, 0, 0, 0x20]), Buffer.from('ftypM4A ')])), 'audio');
});

test('text and gzip are CSV candidates, including UTF-16 with a BOM', async () => {
  assert.equal(await detectKind(Buffer.from('name,age\nAda,36\n')), 'csv');
  assert.equal(await detectKind(gzipSync('a,b\n1,2\n')), 'csv');
  assert.equal(await detectKind(Buffer.from('\ufeffa;b\n', 'utf16le')), 'csv');
});

test('binary junk and empty input are neither', async () => {
  const junk = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7919) % 256));
  assert.equal(await detectKind(junk), undefined);
  assert.equal(await detectKind(Buffer.alloc(0)), undefined);
  assert.equal(await detectKind(Buffer.from('PK\x03\x04 zip file')), undefined);
});
