/**
 * Tidy of the lease store (Vault's sys/leases/tidy): drops index entries whose lease is gone,
 * restores a missing expiry entry, and makes the leases of tokens that no longer exist due now
 * so the expiry loop revokes them. Pages through each area; never loads it whole.
 *
 * Invariant: tidy deletes only index entries and moves only due instants; it never deletes a
 * lease without revoking it.
 */
import type { StorageView } from '../router/storage_view.ts';
import type { LeaseRecords } from './lease_records.ts';
import {
  expiryPath,
  expiryPrefix,
  irrevocablePrefix,
  leasesPrefix,
  parseExpiryPath,
  type StoredLease,
} from './stored_lease.ts';

/** What tidy did. */
export interface LeaseTidyReport {
  /** Index entries removed because their lease is gone or has moved. */
  readonly staleIndexKeys: number;
  /** Expiry entries restored for leases that had none. */
  readonly restoredIndexKeys: number;
  /** Leases of tokens that no longer exist, made due now. */
  readonly orphanedLeases: number;
}

/** What tidy works with. */
export interface LeaseTidyContext {
  readonly records: LeaseRecords;
  readonly pageSize: number;
  readonly nowMs: number;
  readonly tokenExists: ((tokenKey: string) => Promise<boolean>) | undefined;
  readonly scheduleNow: (dueMs: number) => void;
}

async function eachKey(
  storage: StorageView,
  input: { prefix: string; pageSize: number },
  fn: (key: string) => Promise<void>,
): Promise<void> {
  let after: string | undefined;
  do {
    const page = await storage.list(
      input.prefix,
      after === undefined ? { limit: input.pageSize } : { after, limit: input.pageSize },
    );
    for (const key of page.keys) {
      await fn(key);
    }
    after = page.cursor;
  } while (after !== undefined);
}

/** The lease id an index key names (by-expiry, by-token or irrevocable), or undefined. */
function leaseIdOfIndexKey(key: string): string | undefined {
  if (key.startsWith(expiryPrefix)) {
    return parseExpiryPath(key)?.leaseId;
  }
  if (key.startsWith(irrevocablePrefix)) {
    return key.slice(irrevocablePrefix.length);
  }
  const rest = key.slice('by-token/'.length);
  const slash = rest.indexOf('/');
  return slash <= 0 ? undefined : rest.slice(slash + 1);
}

/** Runs tidy; see the file comment. */
export async function tidyLeases(context: LeaseTidyContext): Promise<LeaseTidyReport> {
  const { records, pageSize } = context;
  let staleIndexKeys = 0;
  let restoredIndexKeys = 0;
  let orphanedLeases = 0;
  for (const prefix of [expiryPrefix, 'by-token/', irrevocablePrefix]) {
    await eachKey(records.storage, { prefix, pageSize }, async (key) => {
      const leaseId = leaseIdOfIndexKey(key);
      if (leaseId === undefined || !(await records.exists(leaseId))) {
        await records.removeKey(key);
        staleIndexKeys += 1;
      }
    });
  }
  await eachKey(records.storage, { prefix: leasesPrefix, pageSize }, async (key) => {
    const read = await records.read(key.slice(leasesPrefix.length));
    if (read === undefined) {
      return;
    }
    const lease = read.lease;
    if (await tokenGone(lease, context)) {
      const dueMs = Math.min(lease.dueMs, context.nowMs);
      if (lease.irrevocable === undefined && lease.revokeFailures === 0 && dueMs !== lease.dueMs) {
        await records.update(read, { ...lease, dueMs });
        context.scheduleNow(dueMs);
      }
      orphanedLeases += 1;
      return;
    }
    const expiryKey = expiryPath(lease.dueMs, lease.leaseId);
    if (
      lease.irrevocable === undefined &&
      (await records.storage.versionOf(expiryKey)) === undefined
    ) {
      await records.putKey(expiryKey);
      restoredIndexKeys += 1;
    }
  });
  return { staleIndexKeys, restoredIndexKeys, orphanedLeases };
}

async function tokenGone(lease: StoredLease, context: LeaseTidyContext): Promise<boolean> {
  if (lease.tokenKey === undefined || context.tokenExists === undefined) {
    return false;
  }
  return !(await context.tokenExists(lease.tokenKey));
}
