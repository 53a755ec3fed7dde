/**
 * Reading a JSON-lines decision log: the lines `readDecisionLog` gives are
 * the lines of the file decoded as UTF-8, whatever falls on the boundaries
 * of the pieces decoded and of the reads into the reused buffer — ASCII
 * pieces are copied byte for byte, the others decoded, and a character cut
 * by a piece's end must come out whole. The synchronous reading must cut
 * the same lines.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { fileLinesSync, readDecisionLog } from '../../src/cli/decision-log-file.js';
import { PIECE_BYTES, READ_BYTES } from '../../src/cli/text-file-chunks.js';

/** A piece boundary, then one that is also a read boundary (the buffer is refilled there). */
const BOUNDARIES = [PIECE_BYTES, READ_BYTES];
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-log-lines-'));

async function linesOf(bytes: Buffer): Promise<string[]> {
  const file = join(dir, 'log.jsonl');
  writeFileSync(file, bytes);
  const seen: string[] = [];
  await readDecisionLog(file, dir, {
    add: () => assert.fail('every line is taken by addLine'),
    addLine: (line) => (seen.push(line), true),
  });
  // The synchronous reading (the chain check's, on the reading thread) cuts the same lines.
  const sync = [...fileLinesSync(file)].flat().filter((l) => l.trim() !== '');
  assert.deepEqual(sync, seen, 'fileLinesSync gives the lines readDecisionLog gives');
  return seen;
}

/** What node:readline would give: lines split at \n, \r\n or \r, blank ones skipped as the reader skips them. */
function expected(bytes: Buffer): string[] {
  return bytes
    .toString('utf8')
    .split(/\r\n|\n|\r/)
    .filter((l) => l.trim() !== '');
}

test('characters of 2, 3 and 4 bytes cut by a read boundary come out whole', async () => {
  for (const CHUNK of BOUNDARIES)
    for (const ch of ['é', '€', '😀']) {
      const width = Buffer.byteLength(ch);
      for (let shift = 0; shift < width + 1; shift++) {
        const head = 'a'.repeat(CHUNK - shift - 1);
        const bytes = Buffer.from(`${head}\n${ch}x\n${'b'.repeat(10)}\nlast ${ch}`);
        assert.deepEqual(await linesOf(bytes), expected(bytes), `${ch} shifted by ${shift}`);
      }
    }
});

test('invalid UTF-8 on and around a boundary decodes as one decoder would', async () => {
  const tails = [[0xe2, 0x82], [0xf0], [0x80, 0x80], [0xff], [0xc3]];
  for (const CHUNK of BOUNDARIES)
    for (const tail of tails) {
      const head = Buffer.from('x'.repeat(CHUNK - tail.length));
      const bytes = Buffer.concat([head, Buffer.from(tail), Buffer.from('yz\nplain ascii after\n')]);
      assert.deepEqual(await linesOf(bytes), expected(bytes), `tail ${tail.map((b) => b.toString(16))}`);
    }
});

test('random mixes of ASCII and multi-byte lines across boundaries', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 8 })), {
        minLength: 1,
        maxLength: 30,
      }),
      fc.integer({ min: 0, max: 6 }),
      fc.constantFrom(...BOUNDARIES),
      async (parts, before, CHUNK) => {
        const pad = 'p'.repeat(CHUNK - before);
        const bytes = Buffer.from(`${pad}\n${parts.join('\n')}\n`);
        assert.deepEqual(await linesOf(bytes), expected(bytes));
      },
    ),
    { numRuns: 40 },
  );
});

test('a line longer than a piece, and than a read, comes out whole', async () => {
  const long = 'é'.repeat(READ_BYTES) + 'x'.repeat(PIECE_BYTES + 3);
  const bytes = Buffer.from(`first\n${long}\r\nlast`);
  assert.deepEqual(await linesOf(bytes), expected(bytes));
});
