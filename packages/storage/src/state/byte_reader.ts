/**
 * A bounds-checked cursor over bytes from outside (a committed entry, a snapshot chunk, a
 * stored record), for the state codecs. Numbers are big-endian; a u64 must be a safe integer.
 *
 * Every read names what it reads, so the error a decoder reports says where the bytes went
 * wrong ("operation 3 key runs past the end"). Reads throw {@link ByteReadError}, which each
 * decoder turns into its own typed outcome; it never escapes this package.
 */

/** Thrown by {@link ByteReader} when the bytes do not hold what the caller asked for. */
export class ByteReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ByteReadError';
  }
}

const twoTo32 = 2 ** 32;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reads numbers, byte strings and UTF-8 text from a byte array, front to back. */
export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes read so far. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes not read yet. */
  remaining(): number {
    return this.#bytes.byteLength - this.#offset;
  }

  u8(what: string): number {
    this.#need(1, what);
    const value = this.#view.getUint8(this.#offset);
    this.#offset += 1;
    return value;
  }

  u16(what: string): number {
    this.#need(2, what);
    const value = this.#view.getUint16(this.#offset);
    this.#offset += 2;
    return value;
  }

  u32(what: string): number {
    this.#need(4, what);
    const value = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return value;
  }

  /** A u64 that must fit a safe integer (everything Coffer counts does). */
  u64(what: string): number {
    this.#need(8, what);
    const high = this.#view.getUint32(this.#offset);
    const low = this.#view.getUint32(this.#offset + 4);
    this.#offset += 8;
    const value = high * twoTo32 + low;
    if (!Number.isSafeInteger(value)) {
      throw new ByteReadError(`${what} is above 2^53 - 1`);
    }
    return value;
  }

  /** The next length bytes, as a view (not a copy) of the underlying array. */
  bytes(length: number, what: string): Uint8Array {
    this.#need(length, what);
    const view = this.#bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return view;
  }

  /** The next length bytes as strict UTF-8 text. */
  utf8(length: number, what: string): string {
    const bytes = this.bytes(length, what);
    try {
      return utf8.decode(bytes);
    } catch {
      throw new ByteReadError(`${what} is not valid UTF-8`);
    }
  }

  /** Fails unless every byte has been read. */
  end(what: string): void {
    const left = this.remaining();
    if (left !== 0) {
      throw new ByteReadError(`${what} has ${left} trailing bytes`);
    }
  }

  #need(length: number, what: string): void {
    if (length > this.#bytes.byteLength - this.#offset) {
      throw new ByteReadError(`${what} runs past the end`);
    }
  }
}
