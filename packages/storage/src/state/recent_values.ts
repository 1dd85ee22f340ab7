/**
 * RecentValues: the stored values (ciphertext, as LevelDB holds them) of recently read or
 * written state keys, and the keys recently found absent, so hot reads (the mount table,
 * policies, tokens, a secret's metadata) skip a LevelDB lookup. Vault keeps the same kind of
 * cache below its barrier.
 *
 * Invariant: exact, never stale. The store updates it with every batch it writes, after the
 * write succeeded and before the batch counts as applied; a restore or a failure clears it.
 * Bounded by entries and bytes; the oldest entries (by when they were read or written) go first:
 * a hit does not reorder, which keeps the hot path to one Map lookup.
 */
import type { StoredValue } from './state_record.ts';

/** Entries kept at most. */
export const recentValuesMax = 16_384;
/** Value bytes kept at most. */
export const recentValueBytesMax = 32 * 1024 * 1024;
/** Values larger than this are never kept. */
const valueBytesKeptMax = 64 * 1024;

/** A bounded, exact cache of stored values by key. */
export class RecentValues {
  readonly #values = new Map<string, StoredValue | null>();
  #bytes = 0;
  /**
   * Walks the keys oldest first, for eviction. NB: one iterator kept across calls: a fresh
   * `keys().next()` skips every deleted slot at the front of the Map's table (V8 compacts it only
   * when it fills), thousands once the cache is full and churning, microseconds per eviction.
   * Every key behind the iterator was evicted (a key written again moves to the end), so it
   * yields the oldest key, as a fresh iterator would.
   */
  #oldest: Iterator<string> = this.#values.keys();

  /** The value of key: a StoredValue, null when known absent, undefined when not cached. */
  get(key: string): StoredValue | null | undefined {
    return this.#values.get(key);
  }

  /** Records key's value (null: absent). The caller hands over `value`: it is not copied. */
  set(key: string, value: StoredValue | null): void {
    this.delete(key);
    if (value !== null && value.value.byteLength > valueBytesKeptMax) {
      return;
    }
    this.#values.set(key, value);
    this.#bytes += value === null ? 0 : value.value.byteLength;
    while (this.#values.size > recentValuesMax || this.#bytes > recentValueBytesMax) {
      const oldest = this.#nextOldest();
      if (oldest === undefined) {
        break;
      }
      this.delete(oldest);
    }
  }

  /** The oldest key, or undefined when the cache is empty. */
  #nextOldest(): string | undefined {
    let next = this.#oldest.next();
    if (next.done === true) {
      // An exhausted iterator stays done even as keys are added: start a new one.
      this.#oldest = this.#values.keys();
      next = this.#oldest.next();
    }
    return next.done === true ? undefined : next.value;
  }

  delete(key: string): void {
    const old = this.#values.get(key);
    if (old !== undefined) {
      this.#bytes -= old === null ? 0 : old.value.byteLength;
      this.#values.delete(key);
    }
  }

  clear(): void {
    this.#values.clear();
    this.#bytes = 0;
    this.#oldest = this.#values.keys();
  }

  get size(): number {
    return this.#values.size;
  }
}
