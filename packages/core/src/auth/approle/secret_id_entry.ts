/**
 * A secret_id as stored, and its storage layout. The secret_id itself is never stored: its entry
 * lives under the HMAC of the secret_id (mount_hasher.ts), and a random UUID accessor indexes
 * the entry so operators can list, look up and destroy secret_ids without knowing them.
 *
 * Layout (relative to the mount's view):
 *   secret_id/<role>/<hmac(secret_id)>   the SecretIdEntry (JSON)
 *   accessor/<role>/<accessor>           { secretIdHash }
 *
 * Invariant: an entry and its accessor index are written and deleted in one batch.
 */
import {
  jsonBytes,
  parseJsonBytes,
  type StorageView,
  type WriteOperation,
} from '../../router/storage_view.ts';

/** A stored secret_id. Times are ms since the epoch; 0 means never / unlimited. */
export interface SecretIdEntry {
  readonly roleName: string;
  /** The incarnation of the role that issued it (role_entry.ts). */
  readonly incarnation: string;
  readonly accessor: string;
  /** Logins left; 0 means unlimited. */
  readonly numUses: number;
  readonly ttlSeconds: number;
  readonly creationMs: number;
  readonly expirationMs: number;
  readonly lastUpdatedMs: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly cidrList: readonly string[];
  readonly tokenBoundCidrs: readonly string[];
}

/** A secret_id entry with its hash (its key) and the version it was read at. */
export interface FoundSecretId {
  readonly hash: string;
  readonly entry: SecretIdEntry;
  readonly version: number;
}

/** The storage prefix of a role's secret_id entries. */
export function secretIdPrefix(roleName: string): string {
  return `secret_id/${roleName}/`;
}

/** The storage prefix of a role's accessor index. */
export function accessorPrefix(roleName: string): string {
  return `accessor/${roleName}/`;
}

/** The storage key of a secret_id entry. */
export function secretIdKey(roleName: string, hash: string): string {
  return `${secretIdPrefix(roleName)}${hash}`;
}

/** The storage key of an accessor index entry. */
export function accessorKey(roleName: string, accessor: string): string {
  return `${accessorPrefix(roleName)}${accessor}`;
}

/** True when the entry's TTL has run out at `nowMs`. */
export function secretIdExpired(entry: SecretIdEntry, nowMs: number): boolean {
  return entry.expirationMs > 0 && nowMs >= entry.expirationMs;
}

/** The entry under `hash` for role `roleName`, or undefined. */
export async function findSecretId(
  storage: StorageView,
  roleName: string,
  hash: string,
): Promise<FoundSecretId | undefined> {
  const stored = await storage.getVersioned(secretIdKey(roleName, hash));
  return stored === undefined
    ? undefined
    : { hash, entry: parseJsonBytes<SecretIdEntry>(stored.value), version: stored.version };
}

/** The entry an accessor names, or undefined (also for a dangling index entry). */
export async function findByAccessor(
  storage: StorageView,
  roleName: string,
  accessor: string,
): Promise<FoundSecretId | undefined> {
  const index = await storage.get(accessorKey(roleName, accessor));
  if (index === undefined) {
    return undefined;
  }
  const { secretIdHash } = parseJsonBytes<{ secretIdHash: string }>(index);
  return findSecretId(storage, roleName, secretIdHash);
}

/** The operations that store a new entry and its accessor index. */
export function putSecretIdOperations(hash: string, entry: SecretIdEntry): WriteOperation[] {
  return [
    { kind: 'put', key: secretIdKey(entry.roleName, hash), value: jsonBytes(entry) },
    {
      kind: 'put',
      key: accessorKey(entry.roleName, entry.accessor),
      value: jsonBytes({ secretIdHash: hash }),
    },
  ];
}

/** The operations that delete an entry and its accessor index. */
export function deleteSecretIdOperations(hash: string, entry: SecretIdEntry): WriteOperation[] {
  return [
    { kind: 'delete', key: secretIdKey(entry.roleName, hash) },
    { kind: 'delete', key: accessorKey(entry.roleName, entry.accessor) },
  ];
}

/** Deletes a found entry if it is still at the version read; false when it changed. */
export async function deleteSecretId(storage: StorageView, found: FoundSecretId): Promise<boolean> {
  const outcome = await storage.write({
    conditions: [
      {
        kind: 'version',
        key: secretIdKey(found.entry.roleName, found.hash),
        version: found.version,
      },
    ],
    operations: deleteSecretIdOperations(found.hash, found.entry),
  });
  return outcome.ok;
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

/** An entry as lookups show it (Vault's field names; never the secret_id). */
export function secretIdResponseData(entry: SecretIdEntry): Record<string, unknown> {
  return {
    secret_id_accessor: entry.accessor,
    secret_id_num_uses: entry.numUses,
    secret_id_ttl: entry.ttlSeconds,
    creation_time: rfc3339(entry.creationMs),
    expiration_time:
      entry.expirationMs === 0 ? '0001-01-01T00:00:00Z' : rfc3339(entry.expirationMs),
    last_updated_time: rfc3339(entry.lastUpdatedMs),
    metadata: entry.metadata,
    cidr_list: entry.cidrList,
    token_bound_cidrs: entry.tokenBoundCidrs,
  };
}
