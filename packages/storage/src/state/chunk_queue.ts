/**
 * Bytes arriving in chunks of any size, read back in pieces of the sizes the reader needs. A
 * piece that lies inside one chunk is returned as a view (no copy); one that spans chunks is
 * copied once. Holds at most what the reader asked for plus one chunk.
 */

/** A queue over an (async) iterable of byte chunks. */
export class ChunkQueue {
  readonly #iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  readonly #pieces: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  /** Bytes taken so far. */
  consumedBytes = 0;

  constructor(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.#iterator =
      Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]();
  }

  /** Reads chunks until bytes are buffered; false when the source ended first. */
  async fill(bytes: number): Promise<boolean> {
    while (this.#buffered < bytes && !this.#ended) {
      const next = await this.#iterator.next();
      if (next.done === true) {
        this.#ended = true;
      } else if (next.value.byteLength > 0) {
        this.#pieces.push(next.value);
        this.#buffered += next.value.byteLength;
      }
    }
    return this.#buffered >= bytes;
  }

  /** A copy of the next bytes, left in the queue. They must be buffered. */
  peek(bytes: number): Uint8Array {
    const out = new Uint8Array(bytes);
    let at = 0;
    for (const piece of this.#pieces) {
      if (at === bytes) {
        break;
      }
      const take = Math.min(bytes - at, piece.byteLength);
      out.set(piece.subarray(0, take), at);
      at += take;
    }
    return out;
  }

  /** Removes and returns the next bytes. They must be buffered. */
  take(bytes: number): Uint8Array {
    const first = this.#pieces[0];
    let out: Uint8Array;
    if (first !== undefined && first.byteLength >= bytes) {
      out = first.subarray(0, bytes);
      this.#dropFront(bytes);
    } else {
      out = this.peek(bytes);
      this.#dropFront(bytes);
    }
    this.#buffered -= bytes;
    this.consumedBytes += bytes;
    return out;
  }

  /** Stops the source early (when the reader fails), so it can release what it holds. */
  async close(): Promise<void> {
    if (!this.#ended) {
      this.#ended = true;
      await this.#iterator.return?.();
    }
  }

  #dropFront(bytes: number): void {
    let left = bytes;
    while (left > 0) {
      const first = this.#pieces[0];
      if (first === undefined) {
        return;
      }
      if (first.byteLength <= left) {
        this.#pieces.shift();
        left -= first.byteLength;
      } else {
        this.#pieces[0] = first.subarray(left);
        left = 0;
      }
    }
  }
}
