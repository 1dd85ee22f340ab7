/**
 * The StorageView of the replicated state: a prefix of SecureStore's keys. Reads are local and
 * decrypt through the barrier (the router took the request's read point already); writes are
 * one encrypted transaction each, proposed through Raft.
 */
import type { ListOptions, ListPage } from '@coffer/storage';

import type {
  StorageView,
  VersionedValue,
  WriteBatch,
  WriteOutcome,
} from '../router/storage_view.ts';
import type { SecureStore } from './secure_store.ts';

/** The value read() returns, or its error, as a promise (a decrypt failure rejects). */
function settled<T>(read: () => T): Promise<T> {
  try {
    return Promise.resolve(read());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** A prefix of the replicated, encrypted state. */
export class ReplicatedView implements StorageView {
  readonly #secure: SecureStore;
  readonly #prefix: string;

  /** A view of `prefix` (ending in `/`, or '' for the whole state). */
  constructor(secure: SecureStore, prefix: string) {
    this.#secure = secure;
    this.#prefix = prefix;
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return settled(() => this.#secure.getLocal(this.#prefix + key)?.value);
  }

  getVersioned(key: string): Promise<VersionedValue | undefined> {
    return settled(() => this.#secure.getLocal(this.#prefix + key));
  }

  versionOf(key: string): Promise<number | undefined> {
    return Promise.resolve(this.#secure.versionLocal(this.#prefix + key));
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const page = await this.#secure.listLocal(
      this.#prefix + prefix,
      options.after === undefined ? options : { ...options, after: this.#prefix + options.after },
    );
    const cut = this.#prefix.length;
    return {
      keys: page.keys.map((k) => k.slice(cut)),
      cursor: page.cursor === undefined ? undefined : page.cursor.slice(cut),
    };
  }

  async write(batch: WriteBatch): Promise<WriteOutcome> {
    const p = this.#prefix;
    const outcome = await this.#secure.write({
      conditions: (batch.conditions ?? []).map((c) => ({ ...c, key: p + c.key })),
      operations: batch.operations.map((o) => ({ ...o, key: p + o.key })),
    });
    return outcome.ok
      ? outcome
      : { ok: false, key: outcome.key.slice(p.length), actualVersion: outcome.actualVersion };
  }

  afterCommit(callback: () => void): void {
    this.#secure.afterCommit(callback);
  }

  sub(prefix: string): StorageView {
    return new ReplicatedView(this.#secure, this.#prefix + prefix);
  }
}
