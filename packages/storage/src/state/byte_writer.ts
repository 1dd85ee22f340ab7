/**
 * A growable big-endian byte writer for the state codecs. Numbers written as u64 must be
 * non-negative safe integers; anything else is our own bug and fails an assert.
 */
import assert from 'node:assert/strict';

const twoTo32 = 2 ** 32;
const utf8 = new TextEncoder();

/** Appends numbers and bytes to a buffer that grows by doubling. */
export class ByteWriter {
  #buffer: Uint8Array;
  #view: DataView;
  #length = 0;

  constructor(initialBytes = 256) {
    this.#buffer = new Uint8Array(Math.max(16, initialBytes));
    this.#view = new DataView(this.#buffer.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  u8(value: number): this {
    this.#reserve(1);
    this.#view.setUint8(this.#length, value);
    this.#length += 1;
    return this;
  }

  u16(value: number): this {
    this.#reserve(2);
    this.#view.setUint16(this.#length, value);
    this.#length += 2;
    return this;
  }

  u32(value: number): this {
    this.#reserve(4);
    this.#view.setUint32(this.#length, value);
    this.#length += 4;
    return this;
  }

  u64(value: number): this {
    assert(Number.isSafeInteger(value) && value >= 0, 'u64 takes a non-negative safe integer');
    this.#reserve(8);
    this.#view.setUint32(this.#length, Math.floor(value / twoTo32));
    this.#view.setUint32(this.#length + 4, value % twoTo32);
    this.#length += 8;
    return this;
  }

  bytes(bytes: Uint8Array): this {
    this.#reserve(bytes.byteLength);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.byteLength;
    return this;
  }

  /**
   * Appends text one byte per UTF-16 code unit: its UTF-8 bytes when every code unit is ASCII
   * (below 0x80), which the caller has checked. NB: no TextEncoder call and no array for a key.
   */
  ascii(text: string): this {
    const length = text.length;
    this.#reserve(length);
    const buffer = this.#buffer;
    const start = this.#length;
    for (let i = 0; i < length; i++) {
      buffer[start + i] = text.charCodeAt(i);
    }
    this.#length += length;
    return this;
  }

  /**
   * The bytes written, in an array of exactly their length: the buffer itself when they fill
   * it (a writer sized exactly), else a copy. NB: a full buffer is never written again (any
   * later write grows the writer into a new buffer), so handing it out shares nothing.
   */
  finish(): Uint8Array {
    return this.#length === this.#buffer.byteLength
      ? this.#buffer
      : this.#buffer.slice(0, this.#length);
  }

  #reserve(bytes: number): void {
    const needed = this.#length + bytes;
    if (needed <= this.#buffer.byteLength) {
      return;
    }
    let size = this.#buffer.byteLength * 2;
    while (size < needed) {
      size *= 2;
    }
    const grown = new Uint8Array(size);
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer);
  }
}

/** The UTF-8 bytes of text. */
export function utf8Bytes(text: string): Uint8Array {
  return utf8.encode(text);
}
