/**
 * Writes and deletes of AppRole roles with their role_id index, each one conditional batch:
 * a role write holds only if the role is still at the version read (or still absent), and a new
 * role_id only if no other role holds it, so role_ids stay unique under concurrent writes.
 * Deleting a role also deletes its secret_ids (in bounded batches after the role is gone; a
 * secret_id left by an interrupted delete never logs in, see RoleEntry.incarnation, and tidy
 * removes it).
 */
import { CoreError, CoreErrorCode } from '../../errors.ts';
import {
  jsonBytes,
  listAll,
  type StorageView,
  type WriteCondition,
  type WriteOperation,
} from '../../router/storage_view.ts';
import type { MountHasher } from './mount_hasher.ts';
import {
  roleChangedError,
  roleIdIndexKey,
  roleKey,
  type RoleEntry,
  type VersionedRole,
} from './role_entry.ts';
import { accessorPrefix, secretIdPrefix } from './secret_id_entry.ts';

/** The longest custom role_id. */
export const roleIdLengthMax = 1024;

/** The most deletes in one batch when a role's secret_ids go. */
const deleteBatchSize = 256;

/** Refuses an empty or too long role_id (without echoing it: it is half a credential). */
export function checkRoleId(roleId: string): string {
  if (roleId.trim() === '' || roleId.length > roleIdLengthMax) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      `Send a role_id of 1 to ${roleIdLengthMax} characters, not blank`,
    );
  }
  return roleId;
}

/**
 * Stores `role`, replacing `previous` (as read) or creating it when undefined, and moves the
 * role_id index when the role_id is new or changed.
 */
export async function writeRole(
  storage: StorageView,
  hasher: MountHasher,
  change: { readonly role: RoleEntry; readonly previous: VersionedRole | undefined },
): Promise<void> {
  const { role, previous } = change;
  const key = roleKey(role.name);
  const conditions: WriteCondition[] = [
    previous === undefined
      ? { kind: 'absent', key }
      : { kind: 'version', key, version: previous.version },
  ];
  const operations: WriteOperation[] = [{ kind: 'put', key, value: jsonBytes(role) }];
  let newIndexKey: string | undefined;
  if (previous?.role.roleId !== role.roleId) {
    const hash = await hasher.hash(storage, 'role_id', { value: role.roleId, create: true });
    newIndexKey = roleIdIndexKey(hash);
    conditions.push({ kind: 'absent', key: newIndexKey });
    operations.push({ kind: 'put', key: newIndexKey, value: jsonBytes({ roleName: role.name }) });
    if (previous !== undefined) {
      const old = await hasher.hash(storage, 'role_id', {
        value: previous.role.roleId,
        create: true,
      });
      operations.push({ kind: 'delete', key: roleIdIndexKey(old) });
    }
  }
  const outcome = await storage.write({ conditions, operations });
  if (!outcome.ok) {
    if (outcome.key === newIndexKey) {
      throw new CoreError(
        CoreErrorCode.invalidRequest,
        'Choose another role_id: another role of this mount already uses it',
      );
    }
    throw roleChangedError(role.name);
  }
}

async function deleteAll(storage: StorageView, keys: readonly string[]): Promise<void> {
  for (let start = 0; start < keys.length; start += deleteBatchSize) {
    const operations = keys
      .slice(start, start + deleteBatchSize)
      .map((key): WriteOperation => ({ kind: 'delete', key }));
    await storage.write({ operations });
  }
}

/** Deletes `found` with its role_id index, then every secret_id it issued. */
export async function deleteRole(
  storage: StorageView,
  hasher: MountHasher,
  found: VersionedRole,
): Promise<void> {
  const { role } = found;
  const hash = await hasher.hash(storage, 'role_id', { value: role.roleId, create: true });
  const key = roleKey(role.name);
  const outcome = await storage.write({
    conditions: [{ kind: 'version', key, version: found.version }],
    operations: [
      { kind: 'delete', key },
      { kind: 'delete', key: roleIdIndexKey(hash) },
    ],
  });
  if (!outcome.ok) {
    throw roleChangedError(role.name);
  }
  await deleteAll(storage, await listAll(storage, secretIdPrefix(role.name)));
  await deleteAll(storage, await listAll(storage, accessorPrefix(role.name)));
}
