/**
 * Tidy of the token store (Vault's auth/token/tidy): drops accessor and child index entries of
 * tokens that are gone, revokes tokens whose parent is gone, and finishes revocations that were
 * interrupted (entries marked revoked, spent or expired but still stored). Pages through each
 * area; never loads it whole.
 *
 * Invariant: tidy only deletes what points at nothing and revokes only dead tokens or tokens
 * whose parent no longer exists.
 */
import { parseJsonBytes } from '../router/storage_view.ts';
import { entryPath, isLive } from './token_entry.ts';
import type { TokenRecords } from './token_records.ts';

/** What tidy did. */
export interface TokenTidyReport {
  readonly danglingAccessors: number;
  readonly danglingChildIndexes: number;
  /** Tokens revoked: orphaned by a vanished parent, or dead but not cleaned up. */
  readonly revokedTokens: number;
}

/** What tidy needs of the token store. */
export interface TidyStore {
  readonly records: TokenRecords;
  revokeByKey(key: string, nowMs: number): Promise<void>;
}

const pageSize = 500;

async function eachKey(
  store: TidyStore,
  prefix: string,
  fn: (key: string) => Promise<void>,
): Promise<void> {
  let after: string | undefined;
  do {
    const page = await store.records.storage.list(
      prefix,
      after === undefined ? { limit: pageSize } : { after, limit: pageSize },
    );
    for (const key of page.keys) {
      await fn(key);
    }
    after = page.cursor;
  } while (after !== undefined);
}

/** Runs tidy at nowMs; see the file comment. */
export async function tidyTokens(store: TidyStore, nowMs: number): Promise<TokenTidyReport> {
  const storage = store.records.storage;
  const exists = async (key: string) => (await storage.versionOf(entryPath(key))) !== undefined;
  let danglingAccessors = 0;
  let danglingChildIndexes = 0;
  let revokedTokens = 0;
  await eachKey(store, 'accessor/', async (key) => {
    const value = await storage.get(key);
    const tokenKey =
      value === undefined ? undefined : parseJsonBytes<{ tokenKey?: unknown }>(value).tokenKey;
    if (typeof tokenKey !== 'string' || !(await exists(tokenKey))) {
      await storage.write({ operations: [{ kind: 'delete', key }] });
      danglingAccessors += 1;
    }
  });
  await eachKey(store, 'parent/', async (key) => {
    const [, parentKey = '', childKey = ''] = key.split('/');
    if (!(await exists(childKey))) {
      await storage.write({ operations: [{ kind: 'delete', key }] });
      danglingChildIndexes += 1;
    } else if (!(await exists(parentKey))) {
      await store.revokeByKey(childKey, nowMs);
      revokedTokens += 1;
    }
  });
  await eachKey(store, 'id/', async (key) => {
    const tokenKey = key.slice('id/'.length);
    const entry = (await store.records.read(tokenKey))?.entry;
    if (entry !== undefined && !isLive(entry, nowMs)) {
      await store.revokeByKey(tokenKey, nowMs);
      revokedTokens += 1;
    }
  });
  return { danglingAccessors, danglingChildIndexes, revokedTokens };
}
