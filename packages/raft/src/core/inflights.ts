/**
 * The window of append messages in flight to one follower, bounded both by count and by payload
 * bytes (etcd's MaxInflightMsgs and MaxInflightBytes). The leader stops sending when it is full
 * and frees slots as acknowledgements arrive.
 *
 * Invariant: indexes are increasing; count <= countMax.
 */
import type { LogIndex } from './types.ts';

/** A bounded FIFO of (last index, bytes) of the append messages in flight. */
export class Inflights {
  readonly countMax: number;
  readonly sizeBytesMax: number;
  #indexes: LogIndex[] = [];
  #sizes: number[] = [];
  #sizeBytes = 0;

  constructor(limits: { countMax: number; sizeBytesMax: number }) {
    this.countMax = limits.countMax;
    this.sizeBytesMax = limits.sizeBytesMax;
  }

  /** Records an append message whose last entry is index, carrying sizeBytes of payload. */
  add(index: LogIndex, sizeBytes: number): void {
    this.#indexes.push(index);
    this.#sizes.push(sizeBytes);
    this.#sizeBytes += sizeBytes;
  }

  /** Frees every message whose last index is <= index. */
  freeLE(index: LogIndex): void {
    let n = 0;
    while (n < this.#indexes.length && (this.#indexes[n] ?? Infinity) <= index) {
      this.#sizeBytes -= this.#sizes[n] ?? 0;
      n++;
    }
    if (n > 0) {
      this.#indexes.splice(0, n);
      this.#sizes.splice(0, n);
    }
  }

  /** No more messages may be sent until some are acknowledged. */
  full(): boolean {
    return this.#indexes.length >= this.countMax || this.#sizeBytes >= this.sizeBytesMax;
  }

  count(): number {
    return this.#indexes.length;
  }

  sizeBytes(): number {
    return this.#sizeBytes;
  }

  reset(): void {
    this.#indexes = [];
    this.#sizes = [];
    this.#sizeBytes = 0;
  }
}
