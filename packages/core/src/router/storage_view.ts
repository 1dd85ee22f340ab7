/**
 * StorageView: what a secrets engine, an auth method or a core subsystem sees of the replicated,
 * encrypted state. Keys are relative to the view's prefix (a mount's random prefix, or a system
 * area); values are plaintext here and ciphertext everywhere below (the barrier encrypts each for
 * its full path before the write is proposed through Raft).
 *
 * Reads are local: the router takes one linearizable read point (ReadIndex) when a request
 * starts, so every read of the request sees at least every write acknowledged before it began.
 * Writes are one atomic, conditional batch each, fixed (values, random ids, instants) on the
 * active node before they are proposed, so every replica applies the same bytes.
 */
import type { ListOptions, ListPage } from '@coffer/storage';

/** A value and the version it was written at (the Raft index of its write). */
export interface VersionedValue {
  readonly value: Uint8Array;
  readonly version: number;
}

/** A condition of a write: the key is absent, or at exactly this version. */
export type WriteCondition =
  | { readonly kind: 'absent'; readonly key: string }
  | { readonly kind: 'version'; readonly key: string; readonly version: number };

/** One change of a write. */
export type WriteOperation =
  | { readonly kind: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly kind: 'delete'; readonly key: string };

/** A write: every operation applies, atomically, only when every condition holds. */
export interface WriteBatch {
  readonly conditions?: readonly WriteCondition[];
  readonly operations: readonly WriteOperation[];
}

/** The outcome of a write: applied, or a condition failed and nothing changed. */
export type WriteOutcome =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** The (relative) key whose condition failed. */
      readonly key: string;
      /** Its version when checked; undefined when absent. */
      readonly actualVersion: number | undefined;
    };

/** A prefix of the replicated state. */
export interface StorageView {
  /** The plaintext at key, or undefined. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** The plaintext at key with its version, or undefined. */
  getVersioned(key: string): Promise<VersionedValue | undefined>;
  /**
   * The version of key, or undefined when absent: no decryption, so a cache of a decoded value
   * can check it is current cheaply.
   */
  versionOf(key: string): Promise<number | undefined>;
  /** A page of every key under prefix (recursively, relative to the view), in key order. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Applies a batch through Raft; resolves once it is committed and applied. */
  write(batch: WriteBatch): Promise<WriteOutcome>;
  /** A view of a sub-prefix of this one (`prefix` ends with `/`). */
  sub(prefix: string): StorageView;
  /**
   * Runs callback once the writes made so far are committed: at once, unless a request is
   * holding its writes back to commit them with its outcome (replicated/staged_writes.ts). For
   * what follows a write in memory (waking the lease expiry timer), so it never runs ahead of
   * the write. Not run when the writes are dropped.
   */
  afterCommit(callback: () => void): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a JSON value for storage. */
export function jsonBytes(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Decodes a stored JSON value; the caller knows its shape (it wrote it). */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- NB: the caller names the shape it stored.
export function parseJsonBytes<T>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes)) as T;
}

/** The JSON value at key, or undefined; the caller knows its shape (it wrote it). */
export async function getJson<T>(view: StorageView, key: string): Promise<T | undefined> {
  const bytes = await view.get(key);
  return bytes === undefined ? undefined : parseJsonBytes<T>(bytes);
}

/** Writes a JSON value at key unconditionally. */
export async function putJson(view: StorageView, key: string, value: unknown): Promise<void> {
  await view.write({ operations: [{ kind: 'put', key, value: jsonBytes(value) }] });
}

/** Deletes key unconditionally. */
export async function deleteKey(view: StorageView, key: string): Promise<void> {
  await view.write({ operations: [{ kind: 'delete', key }] });
}

/**
 * Every key under prefix, all pages. For bounded sets only (a mount's roles, a table); large
 * sets (leases) page with list() instead.
 */
export async function listAll(view: StorageView, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let after: string | undefined;
  do {
    const page = await view.list(
      prefix,
      after === undefined ? { limit: 1000 } : { after, limit: 1000 },
    );
    keys.push(...page.keys);
    after = page.cursor;
  } while (after !== undefined);
  return keys;
}

/**
 * The immediate children of prefix as Vault lists them: names, and folders with a trailing
 * `/`, each once, in order.
 */
export function childrenOf(prefix: string, keys: readonly string[]): string[] {
  const children: string[] = [];
  for (const key of keys) {
    if (!key.startsWith(prefix)) {
      continue;
    }
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf('/');
    const child = slash === -1 ? rest : rest.slice(0, slash + 1);
    if (child !== '' && children.at(-1) !== child) {
      children.push(child);
    }
  }
  return children;
}
