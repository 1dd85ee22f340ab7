/**
 * The storage operations of the lease store: read a lease with its version, and the atomic
 * batches that keep a lease and its index entries together (create, move its due instant, mark
 * it irrevocable, delete it).
 *
 * Invariant: every batch that changes a lease's `dueMs` deletes its old by-expiry entry and puts
 * the new one in the same write, conditional on the version that was read, so the index never
 * holds two live entries for one lease. Values, instants and ids are fixed by the caller before
 * a batch is built.
 */
import {
  jsonBytes,
  parseJsonBytes,
  type StorageView,
  type WriteOperation,
} from '../router/storage_view.ts';
import {
  checkStoredLease,
  expiryPath,
  irrevocablePath,
  LeaseKind,
  leasePath,
  type StoredLease,
  tokenLeasePath,
} from './stored_lease.ts';

/** A lease as read, with the version its next conditional write names. */
export interface VersionedLease {
  readonly lease: StoredLease;
  readonly version: number;
}

const emptyValue = jsonBytes({});

/** The lease store's records. */
export class LeaseRecords {
  readonly #storage: StorageView;

  constructor(storage: StorageView) {
    this.#storage = storage;
  }

  /** The storage view (for paging its indexes). */
  get storage(): StorageView {
    return this.#storage;
  }

  /** The lease `leaseId` with its version, or undefined. */
  async read(leaseId: string): Promise<VersionedLease | undefined> {
    const stored = await this.#storage.getVersioned(leasePath(leaseId));
    if (stored === undefined) {
      return undefined;
    }
    return { lease: checkStoredLease(parseJsonBytes(stored.value)), version: stored.version };
  }

  /** True when lease `leaseId` exists (no decryption). */
  async exists(leaseId: string): Promise<boolean> {
    return (await this.#storage.versionOf(leasePath(leaseId))) !== undefined;
  }

  /** Stores a new lease and its index entries; false when the id is taken. */
  async create(lease: StoredLease): Promise<boolean> {
    const operations: WriteOperation[] = [
      { kind: 'put', key: leasePath(lease.leaseId), value: jsonBytes(lease) },
      { kind: 'put', key: expiryPath(lease.dueMs, lease.leaseId), value: emptyValue },
    ];
    if (lease.kind === LeaseKind.secret && lease.tokenKey !== undefined) {
      operations.push({
        kind: 'put',
        key: tokenLeasePath(lease.tokenKey, lease.leaseId),
        value: emptyValue,
      });
    }
    const outcome = await this.#storage.write({
      conditions: [{ kind: 'absent', key: leasePath(lease.leaseId) }],
      operations,
    });
    return outcome.ok;
  }

  /**
   * Replaces a lease read at `read.version` by `next` (same id), moving its expiry index entry
   * when its due instant changed, and keeping the irrevocable index in step. False when the
   * lease changed since it was read.
   */
  async update(read: VersionedLease, next: StoredLease): Promise<boolean> {
    const before = read.lease;
    const operations: WriteOperation[] = [
      { kind: 'put', key: leasePath(next.leaseId), value: jsonBytes(next) },
    ];
    const indexedBefore = before.irrevocable === undefined;
    const indexedAfter = next.irrevocable === undefined;
    if (indexedBefore && (!indexedAfter || before.dueMs !== next.dueMs)) {
      operations.push({ kind: 'delete', key: expiryPath(before.dueMs, before.leaseId) });
    }
    if (indexedAfter && (!indexedBefore || before.dueMs !== next.dueMs)) {
      operations.push({
        kind: 'put',
        key: expiryPath(next.dueMs, next.leaseId),
        value: emptyValue,
      });
    }
    if (indexedBefore !== indexedAfter) {
      operations.push(
        indexedAfter
          ? { kind: 'delete', key: irrevocablePath(next.leaseId) }
          : { kind: 'put', key: irrevocablePath(next.leaseId), value: emptyValue },
      );
    }
    const outcome = await this.#storage.write({
      conditions: [{ kind: 'version', key: leasePath(before.leaseId), version: read.version }],
      operations,
    });
    return outcome.ok;
  }

  /** Deletes a lease and every index entry it has (idempotent). */
  async remove(lease: StoredLease): Promise<void> {
    const operations: WriteOperation[] = [
      { kind: 'delete', key: leasePath(lease.leaseId) },
      { kind: 'delete', key: expiryPath(lease.dueMs, lease.leaseId) },
      { kind: 'delete', key: irrevocablePath(lease.leaseId) },
    ];
    if (lease.tokenKey !== undefined) {
      operations.push({ kind: 'delete', key: tokenLeasePath(lease.tokenKey, lease.leaseId) });
    }
    await this.#storage.write({ operations });
  }

  /** Deletes one index key (a stale entry whose lease is gone or moved). */
  async removeKey(key: string): Promise<void> {
    await this.#storage.write({ operations: [{ kind: 'delete', key }] });
  }

  /** Puts one index key (tidy's repair of a missing expiry entry). */
  async putKey(key: string): Promise<void> {
    await this.#storage.write({ operations: [{ kind: 'put', key, value: emptyValue }] });
  }
}
