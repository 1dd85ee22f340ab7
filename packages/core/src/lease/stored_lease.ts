/**
 * The stored form of a lease and the keys of the lease store.
 *
 * Layout of the lease store's view (rooted at the raw state path `sys/expire/`):
 *   id/<leaseId>                          → StoredLease (JSON; `internal` is backend data,
 *                                           encrypted by the barrier like every value)
 *   by-expiry/<16-digit dueMs>/<leaseId>  → {} : the expiry index, in due order
 *   by-token/<tokenKey>/<leaseId>         → {} : the leases a token created
 *   irrevocable/<leaseId>                 → {} : leases no longer retried automatically
 * A lease id looks like Vault's: `<mount path><request path>/<random>`, so revoke-prefix and
 * mount disable page through `id/<prefix>` in key order.
 *
 * Invariant: a lease that is not irrevocable has exactly one by-expiry entry, at its `dueMs`
 * (its expiry, or the instant of its next revocation attempt after a failure). An irrevocable
 * lease has none, and an irrevocable/ entry instead.
 */
import { randomBytes } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../errors.ts';
import { isPlainObject } from '../router/fields.ts';

/** The format version of a stored lease. */
export const storedLeaseVersion = 1;

/** What a lease stands for: a secret a backend issued, or a token. */
export const LeaseKind = { secret: 'secret', token: 'token' } as const;
/** Union of {@link LeaseKind} values. */
export type LeaseKind = (typeof LeaseKind)[keyof typeof LeaseKind];

/** The mount a lease's secret came from (so the router can find its backend to revoke it). */
export interface LeaseMount {
  readonly uuid: string;
  readonly path: string;
  readonly accessor: string;
  readonly type: string;
}

/** Why a lease is no longer retried. */
export interface IrrevocableMark {
  readonly sinceMs: number;
  /** The error code of the last failed attempt (never a message: it could name a secret). */
  readonly code: string;
}

/** What is stored for a lease. */
export interface StoredLease {
  readonly version: typeof storedLeaseVersion;
  readonly leaseId: string;
  readonly kind: LeaseKind;
  /** The mount of a secret's backend; absent for token leases. */
  readonly mount?: LeaseMount;
  /** The request path below the mount (secrets) or the token's creation path (tokens). */
  readonly path: string;
  /** Secrets: the token that created the lease, if any. Tokens: the token itself. */
  readonly tokenKey?: string;
  readonly issuedMs: number;
  readonly expireMs: number;
  /** The latest instant a renewal may reach; 0 no limit. */
  readonly maxExpireMs: number;
  /** The TTL given at issue (the default increment of a renewal), seconds. */
  readonly ttlSeconds: number;
  readonly lastRenewedMs?: number;
  readonly renewable: boolean;
  /** Backend data to revoke the secret with; never returned or logged. */
  readonly internal: Readonly<Record<string, unknown>>;
  /** The instant of its by-expiry entry. */
  readonly dueMs: number;
  /** Failed revocation attempts so far. */
  readonly revokeFailures: number;
  readonly lastFailureCode?: string;
  readonly irrevocable?: IrrevocableMark;
}

/** Digits of the instant in an expiry index key (milliseconds since the epoch). */
const dueDigits = 16;

/** The prefix of lease entries. */
export const leasesPrefix = 'id/';
/** The prefix of the expiry index. */
export const expiryPrefix = 'by-expiry/';
/** The prefix of the irrevocable index. */
export const irrevocablePrefix = 'irrevocable/';

/** The key of lease `leaseId`. */
export function leasePath(leaseId: string): string {
  return `${leasesPrefix}${leaseId}`;
}

/** The expiry index key of a lease due at dueMs. */
export function expiryPath(dueMs: number, leaseId: string): string {
  return `${expiryPrefix}${String(dueMs).padStart(dueDigits, '0')}/${leaseId}`;
}

/** The prefix of the leases token `tokenKey` created. */
export function tokenLeasesPrefix(tokenKey: string): string {
  return `by-token/${tokenKey}/`;
}

/** The by-token index key of a lease. */
export function tokenLeasePath(tokenKey: string, leaseId: string): string {
  return `${tokenLeasesPrefix(tokenKey)}${leaseId}`;
}

/** The irrevocable index key of a lease. */
export function irrevocablePath(leaseId: string): string {
  return `${irrevocablePrefix}${leaseId}`;
}

/** The due instant and lease id of an expiry index key, or undefined when malformed. */
export function parseExpiryPath(key: string): { dueMs: number; leaseId: string } | undefined {
  const rest = key.slice(expiryPrefix.length);
  const dueMs = Number(rest.slice(0, dueDigits));
  const leaseId = rest.slice(dueDigits + 1);
  if (
    !key.startsWith(expiryPrefix) ||
    rest[dueDigits] !== '/' ||
    !Number.isSafeInteger(dueMs) ||
    leaseId === ''
  ) {
    return undefined;
  }
  return { dueMs, leaseId };
}

/** A fresh lease id under `base` (`<mount path><request path>`). */
export function newLeaseId(base: string): string {
  const trimmed = base.endsWith('/') ? base.slice(0, -1) : base;
  return `${trimmed}/${randomBytes(18).toString('base64url')}`;
}

/** The longest lease id accepted from a request. */
export const leaseIdLengthMax = 1024;

/** Checks a lease id from a request; throws COFFER_CORE_INVALID_REQUEST. */
export function checkLeaseIdInput(leaseId: unknown, field = 'lease_id'): string {
  if (typeof leaseId !== 'string' || leaseId === '' || leaseId.length > leaseIdLengthMax) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      `Send the lease id in field "${field}": a non-empty string of at most ${leaseIdLengthMax} characters`,
    );
  }
  return leaseId;
}

function corrupt(what: string): CoreError {
  return new CoreError(
    CoreErrorCode.internal,
    `Cannot read a stored lease: its field "${what}" is missing or malformed; run sys/leases/tidy`,
  );
}

/** Checks a decoded value is a stored lease of this version (STYLE.md 5.8). */
export function checkStoredLease(value: unknown): StoredLease {
  if (!isPlainObject(value) || value['version'] !== storedLeaseVersion) {
    throw corrupt('version');
  }
  if (typeof value['leaseId'] !== 'string' || typeof value['path'] !== 'string') {
    throw corrupt('leaseId');
  }
  if (value['kind'] !== LeaseKind.secret && value['kind'] !== LeaseKind.token) {
    throw corrupt('kind');
  }
  for (const name of [
    'issuedMs',
    'expireMs',
    'maxExpireMs',
    'ttlSeconds',
    'dueMs',
    'revokeFailures',
  ]) {
    const n = value[name];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw corrupt(name);
    }
  }
  if (typeof value['renewable'] !== 'boolean' || !isPlainObject(value['internal'])) {
    throw corrupt('internal');
  }
  return value as unknown as StoredLease;
}
