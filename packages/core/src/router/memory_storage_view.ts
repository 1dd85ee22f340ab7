/**
 * An in-memory StorageView for unit tests of engines and subsystems: the same contract as the
 * replicated view (relative keys, atomic conditional batches, versions that grow with every
 * write, key-ordered listing), without Raft or the barrier. End-to-end tests use the real view
 * through the router.
 */
import type { ListOptions, ListPage } from '@coffer/storage';

import type { StorageView, VersionedValue, WriteBatch, WriteOutcome } from './storage_view.ts';

/** Shared state of a memory view and its sub-views. */
class MemoryState {
  readonly values = new Map<string, VersionedValue>();
  version = 0;
  writes = 0;
}

/** A StorageView over a Map. */
export class MemoryStorageView implements StorageView {
  readonly #state: MemoryState;
  readonly #prefix: string;

  constructor(state: MemoryState = new MemoryState(), prefix = '') {
    this.#state = state;
    this.#prefix = prefix;
  }

  /** Committed writes so far (all views of this state), for tests that count them. */
  get writeCount(): number {
    return this.#state.writes;
  }

  /** Every full key and its plaintext, for tests that inspect the state. */
  entries(): ReadonlyMap<string, VersionedValue> {
    return this.#state.values;
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.#state.values.get(this.#prefix + key)?.value);
  }

  getVersioned(key: string): Promise<VersionedValue | undefined> {
    return Promise.resolve(this.#state.values.get(this.#prefix + key));
  }

  versionOf(key: string): Promise<number | undefined> {
    return Promise.resolve(this.#state.values.get(this.#prefix + key)?.version);
  }

  list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const full = this.#prefix + prefix;
    const after = options.after === undefined ? undefined : this.#prefix + options.after;
    const limit = options.limit ?? 100;
    // NB: byte order (UTF-8), as LevelDB lists, for both the sort and the cursor.
    const byteOrder = (a: string, b: string): number =>
      Buffer.compare(Buffer.from(a), Buffer.from(b));
    const keys = [...this.#state.values.keys()]
      .filter((k) => k.startsWith(full) && (after === undefined || byteOrder(k, after) > 0))
      .sort(byteOrder);
    const page = keys.slice(0, limit).map((k) => k.slice(this.#prefix.length));
    return Promise.resolve({
      keys: page,
      cursor: keys.length > limit ? page.at(-1) : undefined,
    });
  }

  write(batch: WriteBatch): Promise<WriteOutcome> {
    const values = this.#state.values;
    for (const condition of batch.conditions ?? []) {
      const current = values.get(this.#prefix + condition.key);
      const holds =
        condition.kind === 'absent'
          ? current === undefined
          : current !== undefined && current.version === condition.version;
      if (!holds) {
        return Promise.resolve({ ok: false, key: condition.key, actualVersion: current?.version });
      }
    }
    this.#state.version += 1;
    this.#state.writes += 1;
    for (const operation of batch.operations) {
      const key = this.#prefix + operation.key;
      if (operation.kind === 'put') {
        values.set(key, { value: operation.value.slice(), version: this.#state.version });
      } else {
        values.delete(key);
      }
    }
    return Promise.resolve({ ok: true });
  }

  /** Writes here commit at once. */
  afterCommit(callback: () => void): void {
    callback();
  }

  sub(prefix: string): StorageView {
    return new MemoryStorageView(this.#state, this.#prefix + prefix);
  }
}
