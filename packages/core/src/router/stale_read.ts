/**
 * Stale reads (docs/design/cluster.md §6): which requests may ask for one, and how the answer
 * says it may be out of date.
 *
 * A request with `consistency: 'stale'` still asks for the ReadIndex round; only when no leader
 * answers it in time (a partition, an election) is it served from the node's applied state. So
 * the token, lease and policy checks of a stale read are exactly as fresh as a linearizable
 * read's whenever a leader is reachable, and lag only while the node is cut off: by at most
 * what the cluster committed since, which the applied index in the answer bounds.
 *
 * Invariant: only a read or list of secrets may be stale. Logins and token endpoints
 * (`auth/`), the system backend (`sys/`, wrapping and leases included), `cubbyhole/`, wrapped
 * reads and writes are refused with COFFER_CORE_STALE_READ_REFUSED before anything runs, so the
 * option never reaches authentication or authorization of its own.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import { Consistency, Operation, type StaleRead } from './request.ts';

/** Path prefixes no stale read may name: authentication, the system backend, per-token data. */
const staleRefusedPrefixes = [
  { prefix: 'sys/', what: 'a system path (sys/)' },
  { prefix: 'auth/', what: 'an authentication path (auth/: logins and tokens)' },
  { prefix: 'cubbyhole/', what: 'a per-token path (cubbyhole/)' },
] as const;

/**
 * The request's consistency: true for `stale`, false for `linearizable` or none; anything else
 * is refused INVALID_REQUEST.
 */
export function wantsStaleRead(consistency: unknown): boolean {
  if (consistency === undefined || consistency === Consistency.linearizable) {
    return false;
  }
  if (consistency === Consistency.stale) {
    return true;
  }
  throw new CoreError(
    CoreErrorCode.invalidRequest,
    `Send consistency as "${Consistency.stale}" or "${Consistency.linearizable}", or leave it out`,
  );
}

/**
 * Throws COFFER_CORE_STALE_READ_REFUSED unless a request of operation on path (validated, no
 * leading slash) with this wrap TTL may be served stale: a read or list of secrets, unwrapped.
 * The answer depends on the operation and the path's first segment only, never on what is
 * mounted, so it may come before the token check.
 */
export function checkStaleReadAllowed(
  operation: Operation,
  request: { readonly path: string; readonly wrapTtlSeconds: number | undefined },
): void {
  const refuse = (what: string): never => {
    throw new CoreError(
      CoreErrorCode.staleReadRefused,
      `Send this request without the stale-read option: ${what} is never served stale ` +
        '(only reads and lists of secrets are)',
    );
  };
  if (operation !== Operation.read && operation !== Operation.list) {
    refuse(`a ${operation}`);
  }
  if (request.wrapTtlSeconds !== undefined) {
    refuse('a wrapped read (it writes a wrapping token)');
  }
  const path = `${request.path}/`;
  for (const { prefix, what } of staleRefusedPrefixes) {
    if (path.startsWith(prefix)) {
      refuse(what);
    }
  }
}

/**
 * The refusal of a stale read of a `sys/` path, for the node's own answers before its router
 * (status reads and lifecycle endpoints read no replicated state, so they would otherwise
 * ignore the option); undefined for any other request.
 */
export function systemStaleReadRefusal(request: {
  readonly consistency?: unknown;
  readonly path: string;
}): CoreError | undefined {
  if (request.consistency !== Consistency.stale || !`${request.path}/`.startsWith('sys/')) {
    return undefined;
  }
  try {
    checkStaleReadAllowed(Operation.read, { path: request.path, wrapTtlSeconds: undefined });
  } catch (error) {
    return error as CoreError;
  }
  return undefined;
}

/** The warning every stale answer carries. */
export function staleReadWarning(stale: StaleRead): string {
  return (
    `Stale read: no leader answered in time, so this was served from this node's applied ` +
    `state at Raft index ${stale.appliedIndex}; it may miss recent writes and revocations`
  );
}
