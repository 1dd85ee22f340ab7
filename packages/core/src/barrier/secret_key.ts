/**
 * SecretKey: key material in a Buffer that only this class can reach, that prints as a redacted
 * marker everywhere (util.inspect, console, JSON, String, template literals) and that can be
 * zeroed. Every key the barrier holds (root key, data keys, derived keys) is one of these
 * (STYLE.md 4.5, 5.7).
 */
import assert from 'node:assert/strict';
import { randomFillSync, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';

/** What a SecretKey prints instead of its bytes. */
export const redactedMarker = '[SecretKey: redacted]';

/** The size of every AES-256 and HMAC-SHA256 key the barrier uses. */
export const keySizeBytes = 32;

/**
 * Key material that never shows itself. The bytes live in a #private Buffer, so no enumerable
 * or reflectable field exposes them; `reveal()` hands the live buffer to crypto calls only.
 *
 * Invariant: once `zero()` ran, the buffer is all zeros and `reveal()` fails an assert, so a
 * zeroed key can never silently encrypt with an all-zero key.
 */
export class SecretKey {
  readonly #bytes: Buffer;
  #zeroed = false;

  private constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  /**
   * Creates a key of `sizeBytes` (default 32) fresh random bytes from the system CSPRNG.
   *
   * NB: Buffer.alloc, not allocUnsafe: allocUnsafe may slice Node's shared pool, and a key must
   * own its memory so that zeroing it leaves no copy behind.
   */
  static generate(sizeBytes: number = keySizeBytes): SecretKey {
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes > 0, 'key size must be positive');
    const bytes = Buffer.alloc(sizeBytes);
    randomFillSync(bytes);
    return new SecretKey(bytes);
  }

  /** Copies `source` into a new key. The caller still owns `source` and should zero it. */
  static fromBytes(source: Uint8Array): SecretKey {
    assert(source.byteLength > 0, 'a key needs at least one byte');
    const bytes = Buffer.alloc(source.byteLength);
    bytes.set(source);
    return new SecretKey(bytes);
  }

  /**
   * Wraps `buffer` without copying: the key takes ownership and zeroes it on `zero()`. For
   * buffers that nobody else references, such as the output of hkdfSync.
   */
  static adopt(buffer: Buffer): SecretKey {
    assert(buffer.byteLength > 0, 'a key needs at least one byte');
    return new SecretKey(buffer);
  }

  /** The key's length in bytes; not secret. */
  get sizeBytes(): number {
    return this.#bytes.byteLength;
  }

  /** True once `zero()` ran. */
  get isZeroed(): boolean {
    return this.#zeroed;
  }

  /**
   * The live key buffer, for a node:crypto call. NB: never log, copy or keep it; it is zeroed in
   * place when the key is.
   */
  reveal(): Buffer {
    if (this.#zeroed) {
      assert.fail('a zeroed SecretKey was used');
    }
    return this.#bytes;
  }

  /** A new key with a copy of these bytes, owned by the caller. */
  clone(): SecretKey {
    return SecretKey.fromBytes(this.reveal());
  }

  /** True when both keys hold the same bytes; compares in constant time for equal lengths. */
  equals(other: SecretKey): boolean {
    const mine = this.reveal();
    const theirs = other.reveal();
    return mine.byteLength === theirs.byteLength && timingSafeEqual(mine, theirs);
  }

  /** Overwrites the bytes with zeros. Idempotent. */
  zero(): void {
    this.#bytes.fill(0);
    this.#zeroed = true;
  }

  /** Redacted: a key never reaches JSON. */
  toJSON(): string {
    return redactedMarker;
  }

  /** Redacted: a key never reaches a string, a template literal or a console `%s`. */
  toString(): string {
    return redactedMarker;
  }

  /** Redacted for util.inspect, console.log, `%o` and `%O`. */
  [inspect.custom](): string {
    return redactedMarker;
  }
}
