/**
 * The `coffer-consistency` metadata of a call: the call's own `consistency` option, else the
 * client's `readConsistency` default, which applies only to reads and lists of secrets, so a
 * client made with `readConsistency: 'stale'` still logs in, writes and reads `sys/` as usual
 * (the server refuses `stale` there: COFFER_CORE_STALE_READ_REFUSED).
 *
 * NB: the server decides what may be stale (core router/stale_read.ts); this copy of the rule
 * only keeps the default from reaching calls the server would refuse.
 */
import type { CallOptions, ReadConsistency } from './client_api.ts';

/** The methods that read or list secrets; `Logical/*` only outside the paths below. */
const secretReadMethods: ReadonlySet<string> = new Set([
  'Logical/Read',
  'Logical/List',
  'Kv/Get',
  'Kv/List',
  'Kv/ReadMetadata',
]);

/** Paths no stale read may name: the system backend, authentication, per-token data. */
const neverStalePrefixes = ['sys/', 'auth/', 'cubbyhole/'];

/** The consistency to send with a call, or undefined to send none (the server's default). */
export function consistencyOf(
  call: {
    readonly method: string;
    readonly request: unknown;
    readonly options: CallOptions;
  },
  readConsistency: ReadConsistency | undefined,
): ReadConsistency | undefined {
  const { options } = call;
  if (options.consistency !== undefined) {
    return options.consistency;
  }
  if (
    readConsistency === undefined ||
    options.wrapTtlSeconds !== undefined ||
    !secretReadMethods.has(call.method)
  ) {
    return undefined;
  }
  // NB: a Kv request's path is inside its mount; only a Logical path names the backend.
  const path = call.method.startsWith('Logical/') ? pathOf(call.request) : undefined;
  if (path !== undefined && neverStalePrefixes.some((prefix) => `${path}/`.startsWith(prefix))) {
    return undefined;
  }
  return readConsistency;
}

/** The `path` of a Logical request message, without leading slashes. */
function pathOf(request: unknown): string | undefined {
  if (typeof request !== 'object' || request === null || !('path' in request)) {
    return undefined;
  }
  const { path } = request;
  return typeof path === 'string' ? path.replace(/^\/+/, '') : undefined;
}
