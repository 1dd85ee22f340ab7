/**
 * The stored form of a token, its storage keys, and the one liveness rule.
 *
 * Layout of the token store's view (rooted at the raw state path `auth/token/`):
 *   id/<key>                   → TokenEntry (JSON, encrypted by the barrier like every value)
 *   accessor/<hash(accessor)>  → { tokenKey }
 *   parent/<parentKey>/<key>   → {} (the child index, for cascading and orphaning revocation)
 * `key` is the keyed hash of the token id; the id itself is never stored.
 *
 * Invariant: an entry with `revokedMs` or `usesExhausted` set, or past `expireMs`, is dead:
 * isLive() is the only rule and every lookup applies it, so a token is refused from the first
 * committed write of its revocation, before its children and leases are cleaned up.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import { isPlainObject } from '../router/fields.ts';

/** The format version of a stored entry. */
export const tokenEntryVersion = 1;

/** The kinds of token: a normal (service) token, or a response-wrapping token. */
export const TokenKind = { service: 'service', wrapping: 'wrapping' } as const;
/** Union of {@link TokenKind} values. */
export type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

/** What is stored for a token. */
export interface TokenEntry {
  readonly version: typeof tokenEntryVersion;
  /** The keyed hash of the token id: its storage key. */
  readonly key: string;
  /** Public handle of the token (lookup-accessor, revoke-accessor, audit lines). */
  readonly accessor: string;
  readonly kind: TokenKind;
  /** Sorted, without duplicates. */
  readonly policies: readonly string[];
  /** The key of the token that created it; absent for orphans. */
  readonly parentKey?: string;
  readonly orphan: boolean;
  readonly createdMs: number;
  /** When the token expires; 0 never (root tokens). */
  readonly expireMs: number;
  /** The TTL it was created with (the default increment of a renewal), seconds. */
  readonly ttlSeconds: number;
  /** The explicit max TTL asked at creation, seconds; 0 none. */
  readonly explicitMaxTtlSeconds: number;
  /** The latest instant any renewal may reach; 0 no limit (root, periodic without explicit). */
  readonly maxExpireMs: number;
  /** A periodic token's period, seconds; 0 not periodic. */
  readonly periodSeconds: number;
  /** Uses left; 0 unlimited (unless usesExhausted). */
  readonly numUses: number;
  /** The last use was taken: the token is dead and revoked after its last request. */
  readonly usesExhausted: boolean;
  readonly renewable: boolean;
  readonly displayName: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** CIDRs the token may be used from; empty: anywhere. */
  readonly boundCidrs: readonly string[];
  /** The path that created it, e.g. `auth/token/create` or `auth/approle/login`. */
  readonly path: string;
  /** The accessor of the auth mount that issued it (logins). */
  readonly mountAccessor?: string;
  /** The id of its lease in the expiration manager; absent for tokens that never expire. */
  readonly leaseId?: string;
  /** Login state the auth method needs on renewal; never returned. */
  readonly internal?: Readonly<Record<string, unknown>>;
  /** When revocation began; the token is dead from then on. */
  readonly revokedMs?: number;
  readonly lastRenewedMs?: number;
}

/** The storage key of the entry of token key `key`. */
export function entryPath(key: string): string {
  return `id/${key}`;
}

/** The storage key of the accessor index entry (`accessorKey` is the accessor's keyed hash). */
export function accessorPath(accessorKey: string): string {
  return `accessor/${accessorKey}`;
}

/** The prefix of the child index of token `parentKey`. */
export function childrenPrefix(parentKey: string): string {
  return `parent/${parentKey}/`;
}

/** The child index entry of `childKey` under `parentKey`. */
export function childPath(parentKey: string, childKey: string): string {
  return `${childrenPrefix(parentKey)}${childKey}`;
}

/** True when the entry may authenticate a request at nowMs (ignoring bound CIDRs). */
export function isLive(entry: TokenEntry, nowMs: number): boolean {
  return (
    entry.revokedMs === undefined &&
    !entry.usesExhausted &&
    (entry.expireMs === 0 || nowMs < entry.expireMs)
  );
}

/** True when the entry is dead only because its last use was taken (its last request runs). */
export function isInLastUse(entry: TokenEntry, nowMs: number): boolean {
  return (
    entry.revokedMs === undefined &&
    entry.usesExhausted &&
    (entry.expireMs === 0 || nowMs < entry.expireMs)
  );
}

function corrupt(what: string): CoreError {
  return new CoreError(
    CoreErrorCode.internal,
    `Cannot read a stored token entry: its field "${what}" is missing or malformed; run auth/token/tidy`,
  );
}

const stringFields = ['key', 'accessor', 'displayName', 'path'] as const;
const numberFields = [
  'createdMs',
  'expireMs',
  'ttlSeconds',
  'explicitMaxTtlSeconds',
  'maxExpireMs',
  'periodSeconds',
  'numUses',
] as const;

/**
 * Checks a decoded value is a token entry of this version (data read from storage is checked
 * like input: STYLE.md 5.8). Throws COFFER_CORE_INTERNAL naming the bad field.
 */
export function checkTokenEntry(value: unknown): TokenEntry {
  if (!isPlainObject(value) || value['version'] !== tokenEntryVersion) {
    throw corrupt('version');
  }
  for (const name of stringFields) {
    if (typeof value[name] !== 'string') {
      throw corrupt(name);
    }
  }
  for (const name of numberFields) {
    const n = value[name];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw corrupt(name);
    }
  }
  const policies = value['policies'];
  if (!Array.isArray(policies) || !policies.every((p) => typeof p === 'string')) {
    throw corrupt('policies');
  }
  if (value['kind'] !== TokenKind.service && value['kind'] !== TokenKind.wrapping) {
    throw corrupt('kind');
  }
  if (!isPlainObject(value['metadata']) || !Array.isArray(value['boundCidrs'])) {
    throw corrupt('metadata');
  }
  return value as unknown as TokenEntry;
}

/**
 * The entry of a root token (init, generate-root): policy `root`, no expiry, no parent, no
 * lease; created at path `auth/token/root`.
 */
export function rootTokenEntry(input: {
  key: string;
  accessor: string;
  nowMs: number;
}): TokenEntry {
  return {
    version: tokenEntryVersion,
    key: input.key,
    accessor: input.accessor,
    kind: TokenKind.service,
    policies: ['root'],
    orphan: true,
    createdMs: input.nowMs,
    expireMs: 0,
    ttlSeconds: 0,
    explicitMaxTtlSeconds: 0,
    maxExpireMs: 0,
    periodSeconds: 0,
    numUses: 0,
    usesExhausted: false,
    renewable: false,
    displayName: 'root',
    metadata: {},
    boundCidrs: [],
    path: 'auth/token/root',
  };
}
