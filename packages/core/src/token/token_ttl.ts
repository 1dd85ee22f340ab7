/**
 * Token TTL arithmetic (Vault's token-store rules), pure so the whole matrix is testable:
 *
 * - a normal token lives `ttl` (else the default) seconds, never past its max TTL: the explicit
 *   max TTL when given, capped by the mount/system max; every renewal sets TTL = increment (else
 *   the creation TTL) from now and is cut at the max, with a warning saying so;
 * - a periodic token lives one period and each renewal sets TTL = period again, forever, unless
 *   an explicit max TTL was given, which then cuts it like any other token;
 * - a token with the root policy and no TTL, period or explicit max never expires.
 *
 * Invariant: expireMs ≤ maxExpireMs whenever maxExpireMs > 0.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { TokenEntry } from './token_entry.ts';

/** TTL limits of the mount that issues a token (its tune, bounded by the system's). */
export interface TtlLimits {
  readonly defaultTtlSeconds: number;
  readonly maxTtlSeconds: number;
}

/** What a creation asks for; zeros mean "not set". */
export interface TtlRequest {
  readonly ttlSeconds: number;
  readonly explicitMaxTtlSeconds: number;
  readonly periodSeconds: number;
  /** The token has the root policy (may then never expire). */
  readonly root: boolean;
}

/** The TTLs a token is created with. */
export interface TtlPlan {
  readonly ttlSeconds: number;
  readonly explicitMaxTtlSeconds: number;
  readonly expireMs: number;
  readonly maxExpireMs: number;
  readonly warnings: readonly string[];
}

function capWarning(ttlSeconds: number, maxSeconds: number): string {
  return (
    `TTL of ${ttlSeconds} seconds exceeded the effective max TTL of ${maxSeconds} seconds; ` +
    'the TTL is capped accordingly'
  );
}

/** The TTLs of a new token at nowMs. */
export function planTtl(
  request: TtlRequest,
  context: { limits: TtlLimits; nowMs: number },
): TtlPlan {
  const { limits, nowMs } = context;
  const warnings: string[] = [];
  const periodic = request.periodSeconds > 0;
  if (
    request.root &&
    request.ttlSeconds === 0 &&
    !periodic &&
    request.explicitMaxTtlSeconds === 0
  ) {
    return { ttlSeconds: 0, explicitMaxTtlSeconds: 0, expireMs: 0, maxExpireMs: 0, warnings };
  }
  let explicitMax = request.explicitMaxTtlSeconds;
  if (!periodic && explicitMax > limits.maxTtlSeconds && limits.maxTtlSeconds > 0) {
    warnings.push(
      `Explicit max TTL of ${explicitMax} seconds is greater than the mount's max TTL; ` +
        `it is capped to ${limits.maxTtlSeconds} seconds`,
    );
    explicitMax = limits.maxTtlSeconds;
  }
  let ttl = periodic ? request.periodSeconds : request.ttlSeconds || limits.defaultTtlSeconds;
  const maxSeconds = periodic ? explicitMax : explicitMax || limits.maxTtlSeconds;
  if (maxSeconds > 0 && ttl > maxSeconds) {
    warnings.push(capWarning(ttl, maxSeconds));
    ttl = maxSeconds;
  }
  if (ttl <= 0) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      'Send a positive "ttl": the mount has no default TTL to give this token',
    );
  }
  return {
    ttlSeconds: ttl,
    explicitMaxTtlSeconds: explicitMax,
    expireMs: nowMs + ttl * 1000,
    maxExpireMs: maxSeconds > 0 ? nowMs + maxSeconds * 1000 : 0,
    warnings,
  };
}

/**
 * A periodic token's period, capped at the mount's (or the system's) max TTL, as Vault caps
 * it; the warning says so when it was cut.
 */
export function capPeriod(
  periodSeconds: number,
  limits: TtlLimits,
): { readonly periodSeconds: number; readonly warnings: readonly string[] } {
  if (periodSeconds > 0 && limits.maxTtlSeconds > 0 && periodSeconds > limits.maxTtlSeconds) {
    return {
      periodSeconds: limits.maxTtlSeconds,
      warnings: [
        `Period of ${periodSeconds} seconds is greater than the max TTL; it is capped to ${limits.maxTtlSeconds} seconds`,
      ],
    };
  }
  return { periodSeconds, warnings: [] };
}

/** What a renewal sets. */
export interface RenewalPlan {
  readonly ttlSeconds: number;
  readonly expireMs: number;
  readonly warnings: readonly string[];
}

/**
 * The renewal of a live token at nowMs by `incrementSeconds` (0: the creation TTL). Throws
 * COFFER_CORE_LEASE_INVALID for a token that is not renewable or never expires.
 */
export function planRenewal(
  entry: TokenEntry,
  input: { incrementSeconds: number; nowMs: number },
): RenewalPlan {
  if (!entry.renewable || entry.expireMs === 0) {
    throw new CoreError(
      CoreErrorCode.leaseInvalid,
      entry.expireMs === 0
        ? 'Do not renew this token: it never expires'
        : 'Create a renewable token to renew it: this token is not renewable',
    );
  }
  const { nowMs } = input;
  const warnings: string[] = [];
  let ttl =
    entry.periodSeconds > 0 ? entry.periodSeconds : input.incrementSeconds || entry.ttlSeconds;
  let expireMs = nowMs + ttl * 1000;
  if (entry.maxExpireMs > 0 && expireMs > entry.maxExpireMs) {
    const remaining = Math.max(0, Math.floor((entry.maxExpireMs - nowMs) / 1000));
    warnings.push(capWarning(ttl, remaining));
    ttl = remaining;
    expireMs = entry.maxExpireMs;
  }
  return { ttlSeconds: ttl, expireMs, warnings };
}

/** Seconds left of a token at nowMs (0 for tokens that never expire, as Vault shows them). */
export function remainingSeconds(entry: TokenEntry, nowMs: number): number {
  return entry.expireMs === 0 ? 0 : Math.max(0, Math.floor((entry.expireMs - nowMs) / 1000));
}
