/**
 * What every AppRole route of one mount shares: the mount's HMAC hasher (with its cached key)
 * and the login limiter. One context per backend instance, i.e. per mount on this node.
 */
import type { LoginLimiter } from '../login_limiter.ts';
import type { MountHasher } from './mount_hasher.ts';

/** The shared state of an AppRole mount's routes. */
export interface AppRoleContext {
  readonly hasher: MountHasher;
  readonly limiter: LoginLimiter;
}
