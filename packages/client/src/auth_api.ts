/** The Auth service (AppRole login, auth/token/) of {@link CofferClient}. */
import type { AuthApi } from './client_api.ts';
import type { UnaryCaller } from './unary_caller.ts';

/** The AppRole mount below auth/ that a login uses when it names none. */
export const appRoleMountDefault = 'approle';

/** The Auth methods, each one call on `caller`. Tokens acted on travel in the message. */
export function createAuthApi(caller: UnaryCaller): AuthApi {
  return {
    appRoleLogin: (request) =>
      caller.call('Auth/AppRoleLogin', {
        mount: request.mount ?? appRoleMountDefault,
        role_id: request.roleId,
        secret_id: request.secretId,
      }),
    tokenCreate: (request, options) =>
      caller.call(
        'Auth/TokenCreate',
        {
          policies: [...(request.policies ?? [])],
          ttl: request.ttl ?? '',
          explicit_max_ttl: request.explicitMaxTtl ?? '',
          period: request.period ?? '',
          no_parent: request.noParent ?? false,
          no_default_policy: request.noDefaultPolicy ?? false,
          num_uses: request.numUses ?? 0,
          not_renewable: request.renewable === false,
          display_name: request.displayName ?? '',
          metadata: { ...request.metadata },
        },
        options,
      ),
    tokenLookup: (request, options) =>
      caller.call('Auth/TokenLookup', { token: request?.token ?? '' }, options),
    tokenRenew: (request, options) =>
      caller.call(
        'Auth/TokenRenew',
        { token: request?.token ?? '', increment: request?.increment ?? '' },
        options,
      ),
    tokenRevoke: (request, options) =>
      caller.call('Auth/TokenRevoke', { token: request?.token ?? '' }, options),
    tokenRevokeAccessor: (request, options) =>
      caller.call('Auth/TokenRevokeAccessor', { accessor: request.accessor }, options),
  };
}
