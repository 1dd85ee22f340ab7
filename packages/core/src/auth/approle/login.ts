/**
 * The AppRole `login` route and the renewal check of its tokens.
 *
 * A login first asks the limiter about `role:<hmac of role_id>` and `addr:<client address>`
 * (before any credential check, so a limited answer says nothing about the credentials), then
 * verifies (login_verify.ts). Every refusal — unknown role_id, missing, wrong, expired or
 * used-up secret_id, address outside a CIDR binding — throws the same LOGIN_FAILED error, and the
 * HMAC of the secret_id is computed on every path so the work does not tell them apart.
 * A success resets the role key's failures, not the address's (a caller holding one valid
 * credential cannot wipe its address's record while guessing another).
 */
import { CoreError, CoreErrorCode } from '../../errors.ts';
import type { BackendRequest, BackendResponse, LeaseContext, Route } from '../../router/backend.ts';
import { FieldType } from '../../router/fields.ts';
import { LoginRateLimitedError } from '../login_limiter.ts';
import type { AppRoleContext } from './approle_context.ts';
import {
  type LoginCredentials,
  tokenCidrsOf,
  verifyLogin,
  type VerifiedLogin,
} from './login_verify.ts';
import { findRole } from './role_entry.ts';

/** The one answer of every refused AppRole login. */
export const loginFailedMessage = 'Check the role_id and secret_id: the login was refused';

function loginFailed(): CoreError {
  return new CoreError(CoreErrorCode.loginFailed, loginFailedMessage);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

async function credentialsOf(
  context: AppRoleContext,
  request: BackendRequest,
): Promise<LoginCredentials> {
  const roleId = text(request.fields['role_id']);
  const secretId = text(request.fields['secret_id']);
  const { hasher } = context;
  return {
    roleId,
    roleIdHash: await hasher.hash(request.storage, 'role_id', { value: roleId, create: false }),
    // Always hashed, even when the role_id is unknown or no secret_id was sent.
    secretIdHash: await hasher.hash(request.storage, 'secret_id', {
      value: secretId,
      create: false,
    }),
    secretIdGiven: secretId !== '',
  };
}

function authOf(login: VerifiedLogin): BackendResponse {
  const { role, secretId } = login;
  const boundCidrs = tokenCidrsOf(role, secretId);
  return {
    auth: {
      policies: role.tokenPolicies,
      displayName: 'approle',
      metadata: { ...(secretId?.metadata ?? {}), role_name: role.name },
      ttlSeconds: role.tokenTtlSeconds,
      maxTtlSeconds: role.tokenMaxTtlSeconds,
      ...(role.tokenPeriodSeconds > 0 ? { periodSeconds: role.tokenPeriodSeconds } : {}),
      numUses: role.tokenNumUses,
      renewable: true,
      ...(boundCidrs.length > 0 ? { boundCidrs } : {}),
      internal: { role_name: role.name, role_id: role.roleId, policies: role.tokenPolicies },
    },
  };
}

/** The limiter keys of a login: its role_id's hash and the caller's address (when known). */
export function limiterKeys(roleIdHash: string, clientAddress: string | undefined): string[] {
  const keys = [`role:${roleIdHash}`];
  if (clientAddress !== undefined) {
    keys.push(`addr:${clientAddress}`);
  }
  return keys;
}

function loginHandler(context: AppRoleContext) {
  return async (request: BackendRequest): Promise<BackendResponse> => {
    const credentials = await credentialsOf(context, request);
    const keys = limiterKeys(credentials.roleIdHash, request.clientAddress);
    const limit = context.limiter.check(keys);
    if (!limit.ok) {
      throw new LoginRateLimitedError(limit.retryAfterMs);
    }
    const login = credentials.roleId === '' ? undefined : await verifyLogin(request, credentials);
    if (login === undefined) {
      context.limiter.fail(keys);
      throw loginFailed();
    }
    context.limiter.succeed(keys.slice(0, 1));
    return authOf(login);
  };
}

/** The login route. */
export function loginRoute(context: AppRoleContext): Route {
  return {
    pattern: 'login',
    unauthenticated: true,
    fields: {
      role_id: { type: FieldType.string, required: true, description: 'The role_id' },
      secret_id: { type: FieldType.string, description: 'The secret_id' },
    },
    operations: { update: loginHandler(context) },
  };
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().every((name, i) => name === [...b].sort()[i]);
}

/**
 * Refuses to renew a login token whose role was deleted, or whose role_id or policies changed
 * since the login (Vault's approle renewal check).
 */
export async function renewAppRoleLogin(lease: LeaseContext): Promise<void> {
  const { internal } = lease;
  const name = internal['role_name'];
  const found = typeof name === 'string' ? await findRole(lease.storage, name) : undefined;
  const policies = internal['policies'];
  if (
    found === undefined ||
    found.role.roleId !== internal['role_id'] ||
    (Array.isArray(policies) && !sameMembers(found.role.tokenPolicies, policies.map(String)))
  ) {
    throw new CoreError(
      CoreErrorCode.permissionDenied,
      'Log in again: the AppRole role of this token was deleted or its role_id or policies changed',
    );
  }
}
