/**
 * Small tools for {@link SnapshotStream}s: make one from bytes, collect one (for small,
 * in-memory snapshots and tests), and cut one into pieces of a fixed size (for stores that
 * keep a snapshot in pieces).
 */
import type { SnapshotSource, SnapshotStream } from './ports.ts';

/** A stream of bytes in chunks of at most chunkSizeBytes (one empty chunk for no bytes). */
export function snapshotStreamOf(bytes: Uint8Array, chunkSizeBytes = 1024 * 1024): SnapshotStream {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.byteLength; offset += chunkSizeBytes) {
    chunks.push(bytes.subarray(offset, offset + chunkSizeBytes));
  }
  if (chunks.length === 0) {
    chunks.push(bytes);
  }
  return {
    [Symbol.asyncIterator]: () => {
      let next = 0;
      return {
        next: () => {
          const value = chunks[next++];
          return Promise.resolve(
            value === undefined ? { done: true, value: undefined } : { done: false, value },
          );
        },
      };
    },
  };
}

/** Reads a whole stream into one buffer. NB: for small snapshots only; it holds everything. */
export async function collectSnapshotStream(stream: SnapshotStream): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let sizeBytes = 0;
  for await (const chunk of stream) {
    chunks.push(chunk);
    sizeBytes += chunk.byteLength;
  }
  const out = new Uint8Array(sizeBytes);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * Re-cuts a stream into pieces of exactly pieceSizeBytes (the last may be shorter; none for an
 * empty stream). Holds at most one piece.
 */
export async function* piecesOf(stream: SnapshotStream, pieceSizeBytes: number): SnapshotStream {
  let piece = new Uint8Array(pieceSizeBytes);
  let filled = 0;
  for await (const chunk of stream) {
    let offset = 0;
    while (offset < chunk.byteLength) {
      const n = Math.min(pieceSizeBytes - filled, chunk.byteLength - offset);
      piece.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === pieceSizeBytes) {
        yield piece;
        piece = new Uint8Array(pieceSizeBytes);
        filled = 0;
      }
    }
  }
  if (filled > 0) {
    yield piece.subarray(0, filled);
  }
}

/**
 * A snapshot held in memory as length-prefixed sections (u32 length | bytes, each), for small
 * applications and tests: read back with {@link readFramedSnapshot}.
 */
export function framedSnapshot(sections: readonly Uint8Array[]): SnapshotSource {
  const sizeBytes = sections.reduce((n, section) => n + 4 + section.byteLength, 0);
  const out = new Uint8Array(sizeBytes);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const section of sections) {
    view.setUint32(offset, section.byteLength);
    out.set(section, offset + 4);
    offset += 4 + section.byteLength;
  }
  return { chunks: snapshotStreamOf(out), close: () => Promise.resolve() };
}

/**
 * Reads count sections of a {@link framedSnapshot}. An empty stream gives count empty
 * sections (the snapshot of nothing); anything malformed throws.
 */
export async function readFramedSnapshot(
  chunks: SnapshotStream,
  count: number,
): Promise<Uint8Array[]> {
  const bytes = await collectSnapshotStream(chunks);
  if (bytes.byteLength === 0) {
    return Array.from({ length: count }, () => new Uint8Array(0));
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sections: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const length = offset + 4 <= bytes.byteLength ? view.getUint32(offset) : -1;
    if (length < 0 || offset + 4 + length > bytes.byteLength) {
      throw new Error(`snapshot section ${i} runs past the end of the snapshot`);
    }
    sections.push(bytes.slice(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  if (offset !== bytes.byteLength) {
    throw new Error(`snapshot has ${bytes.byteLength - offset} bytes after its sections`);
  }
  return sections;
}
