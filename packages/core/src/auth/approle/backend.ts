/**
 * The AppRole auth method (Vault's approle): machines log in with a role_id and, when the role
 * binds one, a secret_id; the router turns the login's LoginAuth into a token.
 *
 * Routes (relative to the mount): role, role/:role_name, role/:role_name/role-id,
 * role/:role_name/secret-id (+ /lookup, /destroy), role/:role_name/custom-secret-id,
 * role/:role_name/secret-id-accessor/{lookup,destroy}, login (unauthenticated), tidy/secret-id.
 *
 * Invariants: secret_ids and role_ids are stored only as HMACs under a per-mount key
 * (mount_hasher.ts); every refused login gets the same answer; failed logins are rate limited
 * per role_id and per address, in memory, on this node.
 */
import type { DriverClock } from '@coffer/raft/node';

import type { Backend, MountInfo } from '../../router/backend.ts';
import { LoginLimiter, type LoginLimiterOptions } from '../login_limiter.ts';
import type { AppRoleContext } from './approle_context.ts';
import { loginRoute, renewAppRoleLogin } from './login.ts';
import { MountHasher } from './mount_hasher.ts';
import { roleRoutes } from './role_routes.ts';
import { secretIdRoutes } from './secret_id_routes.ts';
import { tidyRoute } from './tidy.ts';

/** Options of {@link createAppRoleBackend}. */
export interface AppRoleBackendOptions {
  /** The clock of the login limiter. */
  readonly clock: DriverClock;
  /** Login rate limits (defaults in login_limiter.ts). */
  readonly limiter?: LoginLimiterOptions;
}

/** Makes the AppRole backend of one mount. */
export function createAppRoleBackend(_mount: MountInfo, options: AppRoleBackendOptions): Backend {
  // The mount's data is reached through each request's storage view: `_mount` is not needed.
  const context: AppRoleContext = {
    hasher: new MountHasher(),
    limiter: new LoginLimiter(options.clock, options.limiter),
  };
  return {
    routes: [...roleRoutes(context), ...secretIdRoutes(context), loginRoute(context), tidyRoute()],
    renewLogin: renewAppRoleLogin,
  };
}
