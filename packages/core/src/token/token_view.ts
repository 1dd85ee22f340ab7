/**
 * What callers see of a token: the lookup data (Vault's field names), the AuthInfo of a new
 * token, and the CallerInfo the router hands to handlers.
 *
 * Invariant: no view carries the token id, except AuthInfo.clientToken of the response that
 * issues it (the only place the id exists in clear). Lookups, lookup-self included, never show
 * it: the caller of lookup-self already holds it (Vault shows it; Coffer does not).
 */
import type { CallerInfo } from '../router/backend.ts';
import type { AuthInfo } from '../router/request.ts';
import type { TokenEntry } from './token_entry.ts';
import { remainingSeconds } from './token_ttl.ts';

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The lookup data of an entry at nowMs. */
export function lookupData(entry: TokenEntry, nowMs: number): Record<string, unknown> {
  return {
    accessor: entry.accessor,
    creation_time: Math.floor(entry.createdMs / 1000),
    creation_ttl: entry.ttlSeconds,
    display_name: entry.displayName,
    expire_time: entry.expireMs === 0 ? null : iso(entry.expireMs),
    explicit_max_ttl: entry.explicitMaxTtlSeconds,
    issue_time: iso(entry.createdMs),
    last_renewal_time:
      entry.lastRenewedMs === undefined ? null : Math.floor(entry.lastRenewedMs / 1000),
    meta: Object.keys(entry.metadata).length === 0 ? null : { ...entry.metadata },
    num_uses: entry.numUses,
    orphan: entry.orphan,
    path: entry.path,
    policies: [...entry.policies],
    renewable: entry.renewable,
    ttl: remainingSeconds(entry, nowMs),
    type: 'service',
    ...(entry.periodSeconds > 0 ? { period: entry.periodSeconds } : {}),
    ...(entry.boundCidrs.length > 0 ? { bound_cidrs: [...entry.boundCidrs] } : {}),
  };
}

/** The renewal data of an entry (Vault's auth block without the token). */
export function renewalData(entry: TokenEntry, ttlSeconds: number): Record<string, unknown> {
  return {
    accessor: entry.accessor,
    policies: [...entry.policies],
    token_policies: [...entry.policies],
    metadata: { ...entry.metadata },
    lease_duration: ttlSeconds,
    renewable: entry.renewable,
    orphan: entry.orphan,
    num_uses: entry.numUses,
  };
}

/** The AuthInfo of a token just issued. */
export function authInfoOf(id: string, entry: TokenEntry): AuthInfo {
  return {
    clientToken: id,
    accessor: entry.accessor,
    policies: [...entry.policies],
    tokenPolicies: [...entry.policies],
    metadata: { ...entry.metadata },
    leaseDurationSeconds: entry.ttlSeconds,
    renewable: entry.renewable && entry.expireMs !== 0,
    orphan: entry.orphan,
    tokenType: 'service',
    numUses: entry.numUses,
  };
}

/** The caller a handler sees for an entry. */
export function callerInfoOf(entry: TokenEntry): CallerInfo {
  return {
    accessor: entry.accessor,
    policies: [...entry.policies],
    displayName: entry.displayName,
    metadata: { ...entry.metadata },
    root: entry.policies.includes('root'),
    expireMs: entry.expireMs,
  };
}
