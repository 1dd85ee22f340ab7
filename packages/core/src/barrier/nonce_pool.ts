/**
 * NoncePool: fresh random 96-bit GCM nonces, drawn from a buffer that randomFillSync fills in
 * one call for many nonces. One native call per `poolNonces` encryptions instead of one per
 * encryption is most of the barrier's speed over a naive randomBytes(12) per write.
 */
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';

/** The GCM nonce size: 96 bits, the size GCM is designed for (NIST SP 800-38D §8.2.2). */
export const nonceSizeBytes = 12;

/** How many nonces one refill draws by default. */
export const poolNoncesDefault = 1024;

/**
 * A pool of random nonces, each handed out exactly once.
 *
 * Invariant: every byte of the pool comes from the system CSPRNG and is copied out at most once
 * before the next refill overwrites it; the read offset only moves forward between refills.
 * NB: nonces are random, not counters, so no state has to survive a restart or be shared
 * between nodes; the cost is the birthday bound, which the encryption limit per key covers.
 */
export class NoncePool {
  readonly #pool: Buffer;
  #offset: number;

  /** Creates an empty pool; the first `copyInto` fills it. */
  constructor(poolNonces: number = poolNoncesDefault) {
    assert(Number.isSafeInteger(poolNonces) && poolNonces > 0, 'poolNonces must be positive');
    // Its own memory, not a slice of Node's shared allocation pool.
    this.#pool = Buffer.alloc(poolNonces * nonceSizeBytes);
    this.#offset = this.#pool.byteLength;
  }

  /** Copies the next unused nonce into `target` at `offset`. */
  copyInto(target: Buffer, offset: number): void {
    if (this.#offset === this.#pool.byteLength) {
      randomFillSync(this.#pool);
      this.#offset = 0;
    }
    this.#pool.copy(target, offset, this.#offset, this.#offset + nonceSizeBytes);
    this.#offset += nonceSizeBytes;
  }

  /** Forgets the nonces not yet handed out, so none is used after a seal. */
  discard(): void {
    this.#pool.fill(0);
    this.#offset = this.#pool.byteLength;
  }
}
