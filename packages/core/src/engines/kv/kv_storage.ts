/**
 * Where the KV engine keeps its records in the mount's storage, and the one way it changes
 * them: a conditional batch retried a bounded number of times.
 *
 * Layout (relative to the mount's view):
 *   config                      the mount's KvConfig
 *   metadata/<secret path>      a key's KvMetadata; listing `metadata/<folder>/` gives the
 *                               folder listing directly (Vault's `a` and `a/` side by side)
 *   versions/<sha256(path)>/<n> version n's data; the hash has a fixed length, so no secret
 *                               path's prefix can reach another path's versions
 *
 * Invariant: every change of a key is ONE storage.write whose condition is the metadata key's
 * version as read (or `absent` for a new key), carrying the metadata and every version-data
 * put and delete together; two writers that read the same state never both apply.
 * NB: secret paths are visible in storage key names (the barrier encrypts values, not keys),
 * as the `metadata/` listing needs them.
 */
import { hash } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../../errors.ts';
import {
  jsonBytes,
  parseJsonBytes,
  type StorageView,
  type WriteOperation,
} from '../../router/storage_view.ts';
import {
  decodeConfig,
  decodeMetadata,
  decodeVersionData,
  kvDefaults,
  type KvConfig,
  type KvMetadata,
  type KvVersionData,
} from './kv_model.ts';

/** The storage key of the mount's config. */
export const kvConfigKey = 'config';

/** Attempts of a change that keeps losing its condition to concurrent writers. */
export const kvWriteAttemptsMax = 8;

/** Keys per page when listing. */
const listPageKeys = 1000;

/** The storage key of a secret's metadata. */
export function metadataKey(path: string): string {
  return `metadata/${path}`;
}

/** Prefixes remembered (a pure function of the path; every read and write needs one). */
const versionDataPrefixes = new Map<string, string>();
const versionDataPrefixesMax = 4096;

/** The storage prefix of every version's data of a secret (ends with `/`). */
export function versionDataPrefix(path: string): string {
  const known = versionDataPrefixes.get(path);
  if (known !== undefined) {
    return known;
  }
  // NB: the one-shot hash (of path's UTF-8 bytes) is about twice as fast as createHash here.
  const prefix = `versions/${hash('sha256', path, 'hex')}/`;
  versionDataPrefixes.set(path, prefix);
  if (versionDataPrefixes.size > versionDataPrefixesMax) {
    const oldest = versionDataPrefixes.keys().next().value;
    if (oldest !== undefined) {
      versionDataPrefixes.delete(oldest);
    }
  }
  return prefix;
}

/** The storage key of one version's data. */
export function versionDataKey(path: string, version: number): string {
  return versionDataPrefix(path) + String(version);
}

/** A record as read, with the storage version a conditional write names. */
export interface LoadedRecord<T> {
  readonly value: T | undefined;
  readonly storageVersion: number | undefined;
}

/** The mount's config as read; undefined value when none was written. */
export async function loadConfigRecord(storage: StorageView): Promise<LoadedRecord<KvConfig>> {
  const found = await storage.getVersioned(kvConfigKey);
  return found === undefined
    ? { value: undefined, storageVersion: undefined }
    : { value: decodeConfig(parseJsonBytes<unknown>(found.value)), storageVersion: found.version };
}

/** The mount's config, or the defaults when none was written. */
export async function loadConfig(storage: StorageView): Promise<KvConfig> {
  return (await loadConfigRecord(storage)).value ?? kvDefaults;
}

/** Decoded metadata kept per mount; the oldest goes first. */
const metadataCacheEntriesMax = 2048;

/**
 * Decoded metadata by key, per mount view (weak: an unmounted view takes its cache with it).
 *
 * Invariant: an entry is used only when the key's stored version (a local read, no decryption)
 * is the one it was decoded at; a version is the Raft index of the write, so every applied
 * change (on any node) misses the cache. Metadata only: never a secret's version data.
 */
const metadataCaches = new WeakMap<StorageView, Map<string, CachedMetadata>>();

interface CachedMetadata {
  readonly value: KvMetadata;
  readonly storageVersion: number;
}

function metadataCacheOf(storage: StorageView): Map<string, CachedMetadata> {
  let cache = metadataCaches.get(storage);
  if (cache === undefined) {
    cache = new Map();
    metadataCaches.set(storage, cache);
  }
  return cache;
}

/** Freezes a decoded record (and everything in it), so no reader can change a cached one. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) {
      deepFreeze(item);
    }
  }
  return value;
}

/**
 * A secret's metadata as {@link loadMetadata} reads it, decrypted and decoded only when its
 * stored version changed since the last read (reads of a secret far outnumber its writes).
 */
export async function loadMetadataCached(
  storage: StorageView,
  path: string,
): Promise<LoadedRecord<KvMetadata>> {
  const key = metadataKey(path);
  const cache = metadataCacheOf(storage);
  const version = await storage.versionOf(key);
  const cached = cache.get(key);
  if (cached !== undefined && cached.storageVersion === version) {
    return cached;
  }
  const loaded = await loadMetadata(storage, path);
  if (loaded.value === undefined || loaded.storageVersion === undefined) {
    cache.delete(key);
    return loaded;
  }
  const entry: CachedMetadata = {
    value: deepFreeze(loaded.value),
    storageVersion: loaded.storageVersion,
  };
  cache.delete(key);
  cache.set(key, entry);
  if (cache.size > metadataCacheEntriesMax) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) {
      cache.delete(oldest);
    }
  }
  return entry;
}

/** A secret's metadata as read; undefined value when the secret does not exist. */
export async function loadMetadata(
  storage: StorageView,
  path: string,
): Promise<LoadedRecord<KvMetadata>> {
  const found = await storage.getVersioned(metadataKey(path));
  return found === undefined
    ? { value: undefined, storageVersion: undefined }
    : {
        value: decodeMetadata(parseJsonBytes<unknown>(found.value)),
        storageVersion: found.version,
      };
}

/** A secret's records disagree: the metadata names a version whose data is missing. */
export function inconsistent(): CoreError {
  return new CoreError(
    CoreErrorCode.internal,
    'Restore the secret from a backup: its metadata names version data missing from storage',
  );
}

/**
 * One version's data, or undefined when it is not stored (destroyed, trimmed, or removed by a
 * write that applied after the metadata was read).
 */
export async function findVersionData(
  storage: StorageView,
  path: string,
  version: number,
): Promise<KvVersionData | undefined> {
  const bytes = await storage.get(versionDataKey(path, version));
  return bytes === undefined ? undefined : decodeVersionData(parseJsonBytes<unknown>(bytes));
}

/**
 * What a plan decides: the record's next value (undefined: no write; null: delete it), or
 * `readAgain` when it found the state changing under it (a version's data gone between reading
 * the metadata and reading the data).
 */
export type RecordChange<T, R> =
  | {
      readonly next?: T | null;
      /** Further puts and deletes that apply in the same batch. */
      readonly operations?: readonly WriteOperation[];
      readonly result: R;
    }
  | { readonly readAgain: true };

/** How to read and decode one record. */
export interface RecordSpec<T> {
  readonly key: string;
  readonly load: () => Promise<LoadedRecord<T>>;
}

/**
 * Reads a record, asks `plan` what to change, and writes the change conditioned on the record
 * being unchanged; when another writer got there first, reads and plans again (the plan sees
 * the new state, so a check-and-set decides against it), up to {@link kvWriteAttemptsMax}.
 */
export async function changeRecord<T, R>(
  storage: StorageView,
  spec: RecordSpec<T>,
  plan: (current: T | undefined) => Promise<RecordChange<T, R>>,
): Promise<R> {
  for (let attempt = 0; attempt < kvWriteAttemptsMax; attempt++) {
    const loaded = await spec.load();
    const change = await plan(loaded.value);
    if ('readAgain' in change) {
      const reloaded = await spec.load();
      if (reloaded.storageVersion === loaded.storageVersion) {
        throw inconsistent();
      }
      continue;
    }
    const operations: WriteOperation[] = [];
    if (change.next === null) {
      operations.push({ kind: 'delete', key: spec.key });
    } else if (change.next !== undefined) {
      operations.push({ kind: 'put', key: spec.key, value: jsonBytes(change.next) });
    }
    operations.push(...(change.operations ?? []));
    if (operations.length === 0) {
      return change.result;
    }
    const outcome = await storage.write({
      conditions: [
        loaded.storageVersion === undefined
          ? { kind: 'absent', key: spec.key }
          : { kind: 'version', key: spec.key, version: loaded.storageVersion },
      ],
      operations,
    });
    if (outcome.ok) {
      return change.result;
    }
  }
  throw new CoreError(
    CoreErrorCode.writeRefused,
    `Retry the write: concurrent writes to the same secret won ${kvWriteAttemptsMax} times in a row`,
  );
}

/** Changes a secret's metadata (and its version data) with {@link changeRecord}. */
export function changeSecret<R>(
  storage: StorageView,
  path: string,
  plan: (current: KvMetadata | undefined) => Promise<RecordChange<KvMetadata, R>>,
): Promise<R> {
  return changeRecord(
    storage,
    // NB: not the cache: each write changes the version it is keyed by, so a writer would
    // always miss it (and pay for freezing what it decoded).
    { key: metadataKey(path), load: () => loadMetadata(storage, path) },
    plan,
  );
}

/**
 * The immediate children of prefix (which ends with `/` or is empty), Vault style: names, and
 * folders with a trailing `/`, each once, in key order. After a folder it skips past the
 * folder's keys instead of reading them all.
 */
export async function listChildren(storage: StorageView, prefix: string): Promise<string[]> {
  const children: string[] = [];
  const seen = new Set<string>();
  let after: string | undefined;
  for (;;) {
    const page = await storage.list(
      prefix,
      after === undefined ? { limit: listPageKeys } : { after, limit: listPageKeys },
    );
    let skipTo: string | undefined;
    for (const key of page.keys) {
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf('/');
      const child = slash === -1 ? rest : rest.slice(0, slash + 1);
      if (child !== '' && !seen.has(child)) {
        seen.add(child);
        children.push(child);
      }
      if (slash !== -1) {
        // NB: U+10FFFF sorts after every other code point, so continuing after `past` skips
        // the folder's keys (a key with more U+10FFFF is merely read again). `after` must
        // grow in both UTF-8 and UTF-16 order (a view may compare either way), else it
        // continues after `key`.
        const past = `${prefix}${child}\u{10FFFF}`;
        skipTo = past > key && Buffer.compare(Buffer.from(past), Buffer.from(key)) > 0 ? past : key;
        break;
      }
    }
    if (skipTo !== undefined) {
      after = skipTo;
    } else if (page.cursor !== undefined) {
      after = page.cursor;
    } else {
      return children;
    }
  }
}
