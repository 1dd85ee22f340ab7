/**
 * An AppRole role as stored: its settings, its role_id and the storage layout of roles and of the
 * role_id index. Role names are checked here before they reach a storage key.
 *
 * Layout (relative to the mount's view):
 *   role/<name>                 the RoleEntry (JSON)
 *   role_id/<hmac(role_id)>     { roleName } — finds the role at login, keeps role_ids unique
 *
 * Invariant: a stored role's role_id index entry exists and names it; both change in one batch.
 * `incarnation` is random per role creation: secret_ids carry it, so a secret_id left behind by a
 * deleted role never logs into a new role of the same name.
 */
import { CoreError, CoreErrorCode } from '../../errors.ts';
import { parseJsonBytes, type StorageView } from '../../router/storage_view.ts';

/** A stored role. Durations are seconds; 0 means unset (the mount's default) or unlimited. */
export interface RoleEntry {
  readonly name: string;
  readonly roleId: string;
  readonly incarnation: string;
  readonly bindSecretId: boolean;
  readonly secretIdBoundCidrs: readonly string[];
  readonly secretIdNumUses: number;
  readonly secretIdTtlSeconds: number;
  readonly tokenTtlSeconds: number;
  readonly tokenMaxTtlSeconds: number;
  readonly tokenPolicies: readonly string[];
  readonly tokenBoundCidrs: readonly string[];
  readonly tokenNumUses: number;
  readonly tokenPeriodSeconds: number;
}

/** A role and the version it was read at (for conditional writes). */
export interface VersionedRole {
  readonly role: RoleEntry;
  readonly version: number;
}

/** The longest role name. */
export const roleNameLengthMax = 128;

/** The storage prefix of roles. */
export const rolePrefix = 'role/';

/** The storage key of a role. */
export function roleKey(name: string): string {
  return `${rolePrefix}${name}`;
}

/** The storage key of the role_id index entry of a role_id hash. */
export function roleIdIndexKey(roleIdHash: string): string {
  return `role_id/${roleIdHash}`;
}

/** What the role_id index holds. */
export interface RoleIdIndexEntry {
  readonly roleName: string;
}

/** Refuses a role name that is empty, too long, dots only, or has other than `A-Za-z0-9-_.@`. */
export function checkRoleName(name: string): string {
  if (
    name.length === 0 ||
    name.length > roleNameLengthMax ||
    !/^[A-Za-z0-9\-_.@]+$/.test(name) ||
    /^\.+$/.test(name)
  ) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      `Name the role with 1 to ${roleNameLengthMax} letters, digits, "-", "_", "." or "@" (not dots only)`,
    );
  }
  return name;
}

/** The stored role `name` and its version, or undefined. */
export async function findRole(
  storage: StorageView,
  name: string,
): Promise<VersionedRole | undefined> {
  const stored = await storage.getVersioned(roleKey(name));
  return stored === undefined
    ? undefined
    : { role: parseJsonBytes<RoleEntry>(stored.value), version: stored.version };
}

/** The stored role `name`, or a COFFER_CORE_NOT_FOUND refusal. */
export async function requireRole(storage: StorageView, name: string): Promise<VersionedRole> {
  const found = await findRole(storage, checkRoleName(name));
  if (found === undefined) {
    throw new CoreError(
      CoreErrorCode.notFound,
      `Create the role "${name}" first: this AppRole mount has no such role`,
    );
  }
  return found;
}

/** The refusal of a write that lost a race with another write of the same role. */
export function roleChangedError(name: string): CoreError {
  return new CoreError(
    CoreErrorCode.writeRefused,
    `Retry the request: the role "${name}" changed while it was being written`,
  );
}

/** A role as the API shows it (Vault's field names; never the role_id: see role-id). */
export function roleResponseData(role: RoleEntry): Record<string, unknown> {
  return {
    bind_secret_id: role.bindSecretId,
    secret_id_bound_cidrs: role.secretIdBoundCidrs,
    secret_id_num_uses: role.secretIdNumUses,
    secret_id_ttl: role.secretIdTtlSeconds,
    token_ttl: role.tokenTtlSeconds,
    token_max_ttl: role.tokenMaxTtlSeconds,
    token_policies: role.tokenPolicies,
    policies: role.tokenPolicies,
    token_bound_cidrs: role.tokenBoundCidrs,
    token_num_uses: role.tokenNumUses,
    token_period: role.tokenPeriodSeconds,
    token_type: 'service',
  };
}
