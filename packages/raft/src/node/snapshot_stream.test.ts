/**
 * Goal: the snapshot stream tools keep every byte in order whatever the chunking, and refuse a
 * framed snapshot that was cut or extended.
 * Method: seeded random byte strings cut into random chunk sizes; no I/O.
 */
import { describe, expect, it } from 'vitest';

import { SeededRandom } from '../testing/seeded_random.ts';
import {
  collectSnapshotStream,
  framedSnapshot,
  piecesOf,
  readFramedSnapshot,
  snapshotStreamOf,
} from './snapshot_stream.ts';

async function collectPieces(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const piece of stream) {
    out.push(Uint8Array.from(piece));
  }
  return out;
}

describe('snapshot streams', () => {
  it('piecesOf re-cuts any chunking into full pieces and keeps every byte in order', async () => {
    const random = new SeededRandom(11);
    for (let round = 0; round < 50; round++) {
      const bytes = Uint8Array.from({ length: random.int(5000) }, () => random.int(256));
      const pieceSize = 1 + random.int(700);
      const pieces = await collectPieces(
        piecesOf(snapshotStreamOf(bytes, 1 + random.int(900)), pieceSize),
      );
      expect(pieces.slice(0, -1).every((p) => p.byteLength === pieceSize)).toBe(true);
      expect(await collectSnapshotStream(snapshotStreamOf(Buffer.concat(pieces)))).toEqual(bytes);
    }
  });

  it('piecesOf yields nothing for an empty stream', async () => {
    expect(await collectPieces(piecesOf(snapshotStreamOf(new Uint8Array(0)), 10))).toEqual([]);
  });

  it('readFramedSnapshot reads back the sections of framedSnapshot and refuses a cut one', async () => {
    const sections = [Uint8Array.of(1, 2, 3), new Uint8Array(0), Uint8Array.of(9)];
    expect(await readFramedSnapshot(framedSnapshot(sections).chunks, 3)).toEqual(sections);
    const whole = await collectSnapshotStream(framedSnapshot(sections).chunks);
    await expect(readFramedSnapshot(snapshotStreamOf(whole.subarray(0, 9)), 3)).rejects.toThrow(
      'runs past the end',
    );
    await expect(
      readFramedSnapshot(snapshotStreamOf(Uint8Array.from([...whole, 0])), 3),
    ).rejects.toThrow('after its sections');
    expect(await readFramedSnapshot(snapshotStreamOf(new Uint8Array(0)), 2)).toEqual([
      new Uint8Array(0),
      new Uint8Array(0),
    ]);
  });
});
