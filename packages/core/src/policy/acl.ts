/**
 * The ACL of a token: its policies compiled into one matcher (Vault's ACL). A request is
 * allowed when the most specific matching pattern (path_pattern.ts priority rules; an exact
 * pattern before any glob) grants the operation's capability, and `sudo` when the route is
 * root-protected, its wrapping TTL fits, and its data passes the parameter constraints.
 * Deny by default: no matching pattern, no access. `deny` on the chosen pattern in any policy
 * refuses everything there. A root ACL (the built-in `root` policy) allows everything.
 *
 * Defense in depth: check() refuses a path the router would have refused (`..`, `//`, `%`,
 * control characters, non-NFC), since matching is by string and must never see one.
 *
 * Invariant: an Acl is immutable after fromPolicies; check() never throws and never puts a
 * request value in a reason (paths, patterns and parameter names only).
 */
import type { AclRequest } from '../router/acl_request.ts';
import type { Operation } from '../router/request.ts';
import { mergeRule, permissionsOf, type Permissions } from './acl_permissions.ts';
import { checkParameters } from './parameter_check.ts';
import { compilePattern, comparePriority, segmentPatternMatches } from './path_pattern.ts';
import { quote } from './policy_error.ts';
import { Capability, type Policy } from './policy_types.ts';
import { isCanonicalPath } from './text_checks.ts';

/** The outcome of a check; `reason` is for the audit and server logs, never for the caller. */
export type AclDecision =
  | {
      readonly allowed: true;
      /** The matching rule also grants `sudo` (always, for root): handlers may give more. */
      readonly sudo: boolean;
    }
  | { readonly allowed: false; readonly reason: string };

/** What check() looks at: the router's policy check (router/acl_request.ts). */
export type { AclRequest };

const allowedWithSudo: AclDecision = { allowed: true, sudo: true };
const allowedWithoutSudo: AclDecision = { allowed: true, sudo: false };
const grantingCapabilities: readonly Capability[] = [
  Capability.create,
  Capability.delete,
  Capability.list,
  Capability.patch,
  Capability.read,
  Capability.sudo,
  Capability.update,
];
const parameterOperations: ReadonlySet<Operation> = new Set<Operation>([
  'read',
  'create',
  'update',
  'patch',
]);

function refuse(reason: string): AclDecision {
  return { allowed: false, reason };
}

/** A refusal naming the rule that decided it (quoted only when refusing, not per request). */
function refuseByRule(permissions: Permissions, why: string): AclDecision {
  return refuse(`the rule ${quote(permissions.pattern.pattern)}${why}`);
}

function wrappingReason(permissions: Permissions, ttl: number | undefined): string | undefined {
  const { minWrappingTtlSeconds: min, maxWrappingTtlSeconds: max } = permissions;
  const pattern = quote(permissions.pattern.pattern);
  if (max > 0 && (ttl === undefined || ttl > max)) {
    return `the rule ${pattern} needs a wrapped response with a TTL of at most ${max}s`;
  }
  if (min > 0 && (ttl === undefined || ttl < min)) {
    return `the rule ${pattern} needs a wrapped response with a TTL of at least ${min}s`;
  }
  return undefined;
}

/** A compiled set of policies. */
export class Acl {
  /** True when the token holds the root policy: everything is allowed. */
  readonly root: boolean;
  readonly #exact = new Map<string, Permissions>();
  readonly #prefix = new Map<string, Permissions>();
  /** Distinct prefix lengths, longest first. */
  readonly #prefixLengths: number[] = [];
  readonly #segment: Permissions[] = [];

  private constructor(root: boolean) {
    this.root = root;
  }

  /** Compiles policies (in any order: the result does not depend on it). */
  static fromPolicies(policies: readonly Policy[]): Acl {
    const acl = new Acl(policies.some((policy) => policy.root));
    if (!acl.root) {
      acl.#addAll(policies);
    }
    return acl;
  }

  #addAll(policies: readonly Policy[]): void {
    const byPattern = new Map<string, Permissions>();
    for (const policy of policies) {
      for (const rule of policy.rules) {
        const existing = byPattern.get(rule.pattern);
        if (existing === undefined) {
          byPattern.set(rule.pattern, permissionsOf(compilePattern(rule.pattern, rule.line), rule));
        } else {
          mergeRule(existing, rule);
        }
      }
    }
    for (const permissions of byPattern.values()) {
      const pattern = permissions.pattern;
      if (pattern.wildcardCount > 0) {
        this.#segment.push(permissions);
      } else if (pattern.isPrefix) {
        this.#prefix.set(pattern.body, permissions);
      } else {
        this.#exact.set(pattern.pattern, permissions);
      }
    }
    const lengths = new Set([...this.#prefix.keys()].map((body) => body.length));
    this.#prefixLengths.push(...[...lengths].sort((a, b) => b - a));
  }

  #longestPrefix(path: string): Permissions | undefined {
    for (const length of this.#prefixLengths) {
      if (length <= path.length) {
        const found = this.#prefix.get(path.slice(0, length));
        if (found !== undefined) {
          return found;
        }
      }
    }
    return undefined;
  }

  #nonExact(path: string): Permissions | undefined {
    let best = this.#longestPrefix(path);
    if (this.#segment.length === 0) {
      return best;
    }
    const segments = path.split('/');
    for (const candidate of this.#segment) {
      if (
        segmentPatternMatches(candidate.pattern, segments) &&
        (best === undefined || comparePriority(best.pattern, candidate.pattern) < 0)
      ) {
        best = candidate;
      }
    }
    return best;
  }

  /** The permissions of the most specific matching pattern (Vault's AllowOperation lookup). */
  #find(rawPath: string, operation: Operation): Permissions | undefined {
    const path = rawPath.replace(/^\/+/u, '');
    const exact = this.#exact.get(path);
    if (exact !== undefined) {
      return exact;
    }
    const isList = operation === 'list';
    const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
    if (isList) {
      const exactTrimmed = this.#exact.get(trimmed);
      if (exactTrimmed !== undefined) {
        return exactTrimmed;
      }
      if (trimmed !== path) {
        const nonExactTrimmed = this.#nonExact(trimmed);
        if (nonExactTrimmed !== undefined) {
          return nonExactTrimmed;
        }
      }
    }
    return this.#nonExact(path);
  }

  /** Decides a request. */
  check(request: AclRequest): AclDecision {
    if (!isCanonicalPath(request.path)) {
      return refuse(
        `the path ${quote(request.path)} is not canonical (the router should have refused it)`,
      );
    }
    if (this.root) {
      return allowedWithSudo;
    }
    const operation = request.operation;
    const permissions = this.#find(request.path, operation);
    if (permissions === undefined) {
      return refuse(`no policy rule matches the path ${quote(request.path)}`);
    }
    const capabilities = permissions.capabilities;
    if (capabilities.has(Capability.deny)) {
      return refuseByRule(permissions, ' denies the path');
    }
    if (!capabilities.has(operation)) {
      return refuseByRule(permissions, ` does not grant "${operation}"`);
    }
    if (request.sudo === true && !capabilities.has(Capability.sudo)) {
      return refuseByRule(permissions, ' does not grant "sudo", which this path needs');
    }
    const wrapping = wrappingReason(permissions, request.wrapTtlSeconds);
    if (wrapping !== undefined) {
      return refuse(wrapping);
    }
    if (parameterOperations.has(operation)) {
      const reason = checkParameters(permissions, request.data ?? {});
      if (reason !== undefined) {
        return refuseByRule(permissions, `: ${reason}`);
      }
    }
    return capabilities.has(Capability.sudo) ? allowedWithSudo : allowedWithoutSudo;
  }

  /**
   * The capabilities on a path, sorted (Vault's sys/capabilities, looked up as a list would
   * be): `['deny']` when nothing matches or the match denies. A root ACL answers every
   * granting capability; callers that print Vault's `["root"]` test `root` first.
   */
  capabilities(path: string): readonly Capability[] {
    if (this.root) {
      return grantingCapabilities;
    }
    const permissions = this.#find(path, 'list');
    if (permissions === undefined || permissions.capabilities.has(Capability.deny)) {
      return [Capability.deny];
    }
    return grantingCapabilities.filter((capability) => permissions.capabilities.has(capability));
  }
}
