/**
 * The storage operations of the token store: read an entry (with a small cache of decoded
 * entries, checked against the stored version without decrypting), find an entry by accessor,
 * and replace an entry by a conditional write.
 *
 * Invariant: a cached entry is used only when its stored version is the cached one, so a
 * revocation committed anywhere is seen by the next read. The cache holds entries, never ids.
 */
import { jsonBytes, parseJsonBytes, type StorageView } from '../router/storage_view.ts';
import { accessorPath, checkTokenEntry, entryPath, type TokenEntry } from './token_entry.ts';
import { accessorHashInput, isAccessorShaped } from './token_id.ts';

/** An entry as read, with the version its next conditional write names. */
export interface VersionedEntry {
  readonly entry: TokenEntry;
  readonly version: number;
}

/** Decoded entries kept at most. */
const cacheEntriesMax = 10_000;

/** The token store's records. */
export class TokenRecords {
  readonly #storage: StorageView;
  readonly #hashId: (id: string) => string;
  readonly #cache = new Map<string, VersionedEntry>();

  constructor(storage: StorageView, hashId: (id: string) => string) {
    this.#storage = storage;
    this.#hashId = hashId;
  }

  get storage(): StorageView {
    return this.#storage;
  }

  /** The storage key of a token id (its keyed hash). */
  keyOf(id: string): string {
    return this.#hashId(id);
  }

  /** The storage key of an accessor's index entry. */
  accessorKeyOf(accessor: string): string {
    return this.#hashId(accessorHashInput(accessor));
  }

  /** The entry of token key `key` with its version, or undefined. */
  async read(key: string): Promise<VersionedEntry | undefined> {
    const path = entryPath(key);
    const version = await this.#storage.versionOf(path);
    if (version === undefined) {
      this.#cache.delete(key);
      return undefined;
    }
    const cached = this.#cache.get(key);
    if (cached?.version === version) {
      return cached;
    }
    const stored = await this.#storage.getVersioned(path);
    if (stored === undefined) {
      this.#cache.delete(key);
      return undefined;
    }
    const read = { entry: checkTokenEntry(parseJsonBytes(stored.value)), version: stored.version };
    this.#remember(key, read);
    return read;
  }

  /** The entry an accessor indexes, or undefined (also for a malformed accessor). */
  async readByAccessor(accessor: string): Promise<VersionedEntry | undefined> {
    if (!isAccessorShaped(accessor)) {
      return undefined;
    }
    const index = await this.#storage.get(accessorPath(this.accessorKeyOf(accessor)));
    if (index === undefined) {
      return undefined;
    }
    const tokenKey = parseJsonBytes<{ tokenKey?: unknown }>(index).tokenKey;
    if (typeof tokenKey !== 'string') {
      return undefined;
    }
    const read = await this.read(tokenKey);
    return read?.entry.accessor === accessor ? read : undefined;
  }

  /** Replaces an entry read at `read.version`; false when it changed meanwhile. */
  async replace(read: VersionedEntry, next: TokenEntry): Promise<boolean> {
    const outcome = await this.#storage.write({
      conditions: [{ kind: 'version', key: entryPath(read.entry.key), version: read.version }],
      operations: [{ kind: 'put', key: entryPath(next.key), value: jsonBytes(next) }],
    });
    if (!outcome.ok) {
      this.#cache.delete(read.entry.key);
    }
    return outcome.ok;
  }

  /** Forgets a cached entry (after a delete). */
  forget(key: string): void {
    this.#cache.delete(key);
  }

  #remember(key: string, read: VersionedEntry): void {
    this.#cache.delete(key);
    this.#cache.set(key, read);
    if (this.#cache.size > cacheEntriesMax) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) {
        this.#cache.delete(oldest);
      }
    }
  }
}
