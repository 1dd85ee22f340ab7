/**
 * The barrier's ciphertext format and its associated data. Every value the barrier writes is
 *
 * ```
 *  0        1              5                 17                     17+n        33+n
 *  ┌────────┬──────────────┬─────────────────┬──────────────────────┬───────────┐
 *  │version │ keyTerm      │ nonce           │ AES-256-GCM          │ GCM tag   │
 *  │ = 1    │ uint32 BE    │ 12 random bytes │ ciphertext (n bytes) │ 16 bytes  │
 *  └────────┴──────────────┴─────────────────┴──────────────────────┴───────────┘
 *  └──────────── header (17 bytes) ──────────┘
 * ```
 *
 * and the GCM associated data is `header ‖ uint32 BE length of path ‖ path as UTF-8`, so a
 * changed header or a ciphertext moved to another path fails authentication.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';

/** The only ciphertext format version this barrier writes and reads. */
export const ciphertextVersion = 1;
/** Offset of the uint32 BE key term in a ciphertext. */
export const termOffset = 1;
/** Offset of the 12-byte nonce in a ciphertext. */
export const nonceOffset = 5;
/** Size of the header: version, key term and nonce. */
export const headerSizeBytes = 17;
/** Size of the GCM authentication tag at the end of a ciphertext. */
export const tagSizeBytes = 16;
/** Bytes a ciphertext adds to its plaintext. */
export const ciphertextOverheadBytes = headerSizeBytes + tagSizeBytes;

/** What a ciphertext's header says, before anything is authenticated. */
export interface CiphertextHeader {
  /** The format version; always `ciphertextVersion` once read. */
  readonly version: number;
  /** The keyring term whose data key encrypted the value. */
  readonly term: number;
}

/**
 * Reads the header of the ciphertext stored at `path`, without authenticating it: the term is a
 * hint for which key to try, and for counting which terms stored values still reference.
 * Throws COFFER_CORE_BARRIER_INVALID_CIPHERTEXT when the input is too short or of another version.
 */
export function readCiphertextHeader(path: string, ciphertext: Uint8Array): CiphertextHeader {
  return { version: ciphertextVersion, term: readCiphertextTerm(path, ciphertext) };
}

/** Like readCiphertextHeader, returning the term only: the barrier's allocation-free read. */
export function readCiphertextTerm(path: string, ciphertext: Uint8Array): number {
  if (ciphertext.byteLength < ciphertextOverheadBytes) {
    throw new CoreError(
      CoreErrorCode.barrierInvalidCiphertext,
      `Cannot decrypt the value at ${describePath(path)}: it is ${ciphertext.byteLength} bytes, ` +
        `shorter than the ${ciphertextOverheadBytes}-byte minimum; restore it from a backup`,
    );
  }
  const version = ciphertext[0] ?? 0;
  if (version !== ciphertextVersion) {
    throw new CoreError(
      CoreErrorCode.barrierInvalidCiphertext,
      `Cannot decrypt the value at ${describePath(path)}: format version ${version} is not ` +
        `supported (expected ${ciphertextVersion}); restore it from a backup`,
    );
  }
  // NB: no DataView and no closure here: this runs once per decryption.
  return (
    (((ciphertext[termOffset] ?? 0) << 24) |
      ((ciphertext[termOffset + 1] ?? 0) << 16) |
      ((ciphertext[termOffset + 2] ?? 0) << 8) |
      (ciphertext[termOffset + 3] ?? 0)) >>>
    0
  );
}

/**
 * A reusable buffer for the associated data `header ‖ uint32 BE path length ‖ path UTF-8`. It
 * grows to the longest path seen and is rewritten on each call.
 *
 * NB: the returned view is valid until the next `build`; the barrier is synchronous, so no
 * other call can interleave.
 */
export class AssociatedData {
  #scratch: Buffer = Buffer.alloc(256);

  /**
   * Writes the associated data for the header at the start of `ciphertext` and for `path`;
   * returns a view of it.
   */
  build(ciphertext: Buffer, path: string): Buffer {
    const pathOffset = headerSizeBytes + 4;
    // A UTF-16 code unit never takes more than 3 bytes in UTF-8.
    const sizeBytesMax = pathOffset + path.length * 3;
    if (this.#scratch.byteLength < sizeBytesMax) {
      this.#scratch = Buffer.alloc(Math.max(sizeBytesMax, this.#scratch.byteLength * 2));
    }
    const scratch = this.#scratch;
    // A plain loop: for 17 bytes it beats Buffer#copy and needs no subarray.
    for (let i = 0; i < headerSizeBytes; i++) {
      scratch[i] = ciphertext[i] ?? 0;
    }
    const pathSizeBytes = scratch.write(path, pathOffset, 'utf8');
    scratch.writeUInt32BE(pathSizeBytes, headerSizeBytes);
    return scratch.subarray(0, pathOffset + pathSizeBytes);
  }
}

/** Quotes a path for an error message; paths are not secret, but keep messages short. */
export function describePath(path: string): string {
  const pathLengthMax = 200;
  const shown = path.length > pathLengthMax ? `${path.slice(0, pathLengthMax)}…` : path;
  return JSON.stringify(shown);
}
