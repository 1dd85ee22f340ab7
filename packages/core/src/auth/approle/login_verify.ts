/**
 * The credential check of an AppRole login: role_id → role, then the secret_id (when the role
 * binds one), CIDR bindings, and the use count. Returns the role and the secret_id entry used,
 * or undefined for ANY refusal: the caller answers every refusal the same way.
 *
 * A secret_id with a use limit is spent by one conditional write (version condition on its
 * entry) before the login answers: the last use deletes the entry. A write that loses a race
 * re-reads and tries again, a bounded number of times; so of two logins racing for a 1-use
 * secret_id, exactly one succeeds. An expired secret_id is deleted when found.
 */
import { timingSafeEqual } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../../errors.ts';
import type { BackendRequest } from '../../router/backend.ts';
import { getJson, jsonBytes } from '../../router/storage_view.ts';
import { addressAllowed } from './cidr.ts';
import { findRole, roleIdIndexKey, type RoleEntry, type RoleIdIndexEntry } from './role_entry.ts';
import {
  deleteSecretId,
  deleteSecretIdOperations,
  findSecretId,
  secretIdExpired,
  secretIdKey,
  type SecretIdEntry,
} from './secret_id_entry.ts';

/** Tries of the use-count write before the login gives up on contention. */
const spendAttemptsMax = 8;

/** What a login presented, hashed. */
export interface LoginCredentials {
  readonly roleId: string;
  readonly roleIdHash: string;
  readonly secretIdHash: string;
  readonly secretIdGiven: boolean;
}

/** A verified login. */
export interface VerifiedLogin {
  readonly role: RoleEntry;
  readonly secretId: SecretIdEntry | undefined;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The CIDRs the issued token is bound to: the secret_id's when it has some, else the role's. */
export function tokenCidrsOf(
  role: RoleEntry,
  secretId: SecretIdEntry | undefined,
): readonly string[] {
  return secretId !== undefined && secretId.tokenBoundCidrs.length > 0
    ? secretId.tokenBoundCidrs
    : role.tokenBoundCidrs;
}

async function roleOf(
  request: BackendRequest,
  credentials: LoginCredentials,
): Promise<RoleEntry | undefined> {
  const index = await getJson<RoleIdIndexEntry>(
    request.storage,
    roleIdIndexKey(credentials.roleIdHash),
  );
  const found = index === undefined ? undefined : await findRole(request.storage, index.roleName);
  return found !== undefined && sameText(found.role.roleId, credentials.roleId)
    ? found.role
    : undefined;
}

/**
 * Spends one use of the role's secret_id under `hash`; returns the entry as it was before, or
 * undefined when absent, foreign, expired, or the caller is outside its CIDRs or the token's
 * (checked before the use is spent).
 */
async function spendSecretId(
  request: BackendRequest,
  role: RoleEntry,
  hash: string,
): Promise<SecretIdEntry | undefined> {
  const { storage } = request;
  for (let attempt = 0; attempt < spendAttemptsMax; attempt += 1) {
    const found = await findSecretId(storage, role.name, hash);
    if (found === undefined || found.entry.incarnation !== role.incarnation) {
      return undefined;
    }
    const { entry } = found;
    if (secretIdExpired(entry, request.nowMs)) {
      await deleteSecretId(storage, found);
      return undefined;
    }
    if (
      !addressAllowed(entry.cidrList, request.clientAddress) ||
      !addressAllowed(tokenCidrsOf(role, entry), request.clientAddress)
    ) {
      return undefined;
    }
    if (entry.numUses === 0) {
      return entry;
    }
    const key = secretIdKey(role.name, hash);
    const spent: SecretIdEntry = {
      ...entry,
      numUses: entry.numUses - 1,
      lastUpdatedMs: request.nowMs,
    };
    const outcome = await storage.write({
      conditions: [{ kind: 'version', key, version: found.version }],
      operations:
        spent.numUses === 0
          ? deleteSecretIdOperations(hash, entry)
          : [{ kind: 'put', key, value: jsonBytes(spent) }],
    });
    if (outcome.ok) {
      return entry;
    }
  }
  throw new CoreError(
    CoreErrorCode.writeRefused,
    'Retry the login: its secret_id was in use by other logins at the same time',
  );
}

/** Verifies a login's credentials; undefined when refused, for whatever reason. */
export async function verifyLogin(
  request: BackendRequest,
  credentials: LoginCredentials,
): Promise<VerifiedLogin | undefined> {
  const role = await roleOf(request, credentials);
  if (role === undefined || !addressAllowed(role.secretIdBoundCidrs, request.clientAddress)) {
    return undefined;
  }
  let secretId: SecretIdEntry | undefined;
  if (role.bindSecretId) {
    if (!credentials.secretIdGiven) {
      return undefined;
    }
    secretId = await spendSecretId(request, role, credentials.secretIdHash);
    if (secretId === undefined) {
      return undefined;
    }
  }
  if (!addressAllowed(tokenCidrsOf(role, secretId), request.clientAddress)) {
    return undefined;
  }
  return { role, secretId };
}
