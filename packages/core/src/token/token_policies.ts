/**
 * The policies of a new token: normalized (trimmed, lower case, sorted, unique), `default`
 * added unless asked not to, and for a child token bounded by its parent: a non-root parent
 * without sudo may only give a subset of its own policies; only a root token gives `root`;
 * nobody gives `response-wrapping`, which only wrapping tokens carry.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import { normalizePolicyName } from '../policy/policy_name.ts';

/** The policy every token gets unless created with no_default_policy. */
export const defaultPolicy = 'default';
/** The policy of root tokens: everything allowed. */
export const rootPolicy = 'root';
/** The only policy of response-wrapping tokens. */
export const wrappingPolicy = 'response-wrapping';

/** Trims, lower-cases, sorts and dedupes policy names, dropping blanks. */
export function normalizePolicies(names: readonly string[]): string[] {
  return [...new Set(names.map((n) => n.trim().toLowerCase()).filter((n) => n !== ''))].sort();
}

/**
 * Policy names a caller sent (a token's, a role's): each trimmed, then checked as `policy
 * write` checks a name (COFFER_CORE_INVALID_REQUEST), then normalized. Names already stored are
 * not checked again.
 */
export function requestedPolicies(names: readonly string[]): string[] {
  return normalizePolicies(
    names
      .map((n) => n.trim())
      .filter((n) => n !== '')
      .map((n) => normalizePolicyName(n)),
  );
}

/** What a child token asks. */
export interface ChildPolicyRequest {
  /** Undefined or empty: inherit the parent's. */
  readonly requested: readonly string[] | undefined;
  readonly parentPolicies: readonly string[];
  readonly noDefaultPolicy: boolean;
  /** The creator has root or sudo (may give policies it does not hold, except root). */
  readonly sudo: boolean;
}

function denied(message: string): CoreError {
  return new CoreError(CoreErrorCode.permissionDenied, message);
}

/** The policies of a child token; throws COFFER_CORE_PERMISSION_DENIED when not allowed. */
export function childPolicies(request: ChildPolicyRequest): string[] {
  const parent = normalizePolicies(request.parentPolicies);
  const parentIsRoot = parent.includes(rootPolicy);
  const asked =
    request.requested === undefined || request.requested.length === 0
      ? parent
      : requestedPolicies(request.requested);
  if (asked.includes(wrappingPolicy)) {
    throw denied(`Remove the "${wrappingPolicy}" policy: only response-wrapping tokens carry it`);
  }
  if (asked.includes(rootPolicy) && !parentIsRoot) {
    throw denied(
      'Create root tokens with a root token: only a root token may give the "root" policy',
    );
  }
  if (!parentIsRoot && !request.sudo) {
    const extra = asked.filter((p) => p !== defaultPolicy && !parent.includes(p));
    if (extra.length > 0) {
      throw denied(
        `Request only policies your token has: child policies must be a subset of the parent's ` +
          `(not held: ${extra
            .slice(0, 5)
            .map((p) => JSON.stringify(p.slice(0, 64)))
            .join(', ')})`,
      );
    }
  }
  return withDefault(asked, request.noDefaultPolicy);
}

/** Adds `default` unless excluded or the token is root; removes it when excluded. */
export function withDefault(policies: readonly string[], noDefaultPolicy: boolean): string[] {
  const base = policies.filter((p) => p !== defaultPolicy);
  if (noDefaultPolicy || base.includes(rootPolicy)) {
    return normalizePolicies(base.length === 0 && !noDefaultPolicy ? [defaultPolicy] : base);
  }
  return normalizePolicies([...base, defaultPolicy]);
}
