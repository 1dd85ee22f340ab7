/**
 * The token store (Vault's TokenStore): issues tokens (logins, `auth/token/create`, response
 * wrapping), validates them for the router, spends their uses, renews them within their max
 * TTL, and revokes them with their children and leases.
 *
 * A token id exists in clear only in the response that issues it; storage keys the entry by
 * `hashId(id)` (the barrier's token HMAC in production), and accessors by `hashId` too, so a
 * stolen data directory yields neither. Every expiring token has a lease in the expiration
 * manager, which revokes it (revokeByKey) when it expires.
 *
 * Use-limited tokens: consumeUse() spends one use by a committed conditional write before the
 * request runs; the write that takes the last use marks the entry `usesExhausted`, so no other
 * request validates with it. Its last request still runs; then the router calls settleUse(),
 * which revokes the token (children, leases). Until then (or if it never does) the token is
 * dead anyway, and tidy revokes exhausted tokens.
 *
 * Invariant: validate() answers undefined for every kind of bad token and never writes.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { Backend, CallerInfo, LoginAuth, MountInfo } from '../router/backend.ts';
import type { AuthInfo } from '../router/request.ts';
import {
  jsonBytes,
  type StorageView,
  type WriteCondition,
  type WriteOperation,
} from '../router/storage_view.ts';
import type { TokenLeaseInput } from '../lease/expiration_manager.ts';
import { checkBoundCidrs, isAddressAllowed } from './bound_cidrs.ts';
import type { IssueSpec } from './issue_spec.ts';
import {
  accessorPath,
  childPath,
  entryPath,
  isInLastUse,
  isLive,
  type TokenEntry,
  tokenEntryVersion,
  TokenKind,
} from './token_entry.ts';
import { isTokenIdShaped, newAccessor, newTokenId } from './token_id.ts';
import { normalizePolicies, rootPolicy, withDefault, wrappingPolicy } from './token_policies.ts';
import { TokenRecords, type VersionedEntry } from './token_records.ts';
import {
  markRevoked,
  revokeOrphan,
  revokeTree,
  type RevocationLeases,
} from './token_revocation.ts';
import { tokenBackend } from './token_routes.ts';
import { tidyTokens, type TokenTidyReport } from './token_tidy.ts';
import { capPeriod, planRenewal, planTtl, type TtlLimits } from './token_ttl.ts';
import { authInfoOf, callerInfoOf } from './token_view.ts';

/** What the token store needs of the expiration manager. */
export interface TokenLeases extends RevocationLeases {
  registerToken(input: TokenLeaseInput): Promise<string>;
  extendToken(leaseId: string, input: { expireMs: number; nowMs: number }): Promise<void>;
}

/** Options of a {@link TokenStore}. */
export interface TokenStoreOptions {
  /** The token store's view (raw state path `auth/token/`). */
  readonly storage: StorageView;
  /** The keyed hash of an identifier (barrier.hmacIdentifier(IdentifierPurpose.token, ·)). */
  readonly hashId: (id: string) => string;
  readonly leases: TokenLeases;
  /** The system's token TTLs (a mount's tune may only lower the max). */
  readonly defaults: TtlLimits;
  /**
   * Asks the auth method that issued a login token whether it may renew (Backend.renewLogin,
   * found by `entry.mountAccessor`); throws CoreError to refuse. Absent: renewal is allowed.
   */
  readonly renewLogin?: (entry: TokenEntry, nowMs: number) => Promise<void>;
}

const retriesMax = 8;
/** The deepest token tree validate() follows; a deeper token is refused. */
const ancestorsCheckedMax = 64;

function parentGone(): CoreError {
  return new CoreError(
    CoreErrorCode.permissionDenied,
    'Check the token: it was revoked or expired while the request ran',
  );
}

/** The token store. */
export class TokenStore {
  readonly #records: TokenRecords;
  readonly #leases: TokenLeases;
  readonly #defaults: TtlLimits;
  readonly #renewLogin: TokenStoreOptions['renewLogin'];

  constructor(options: TokenStoreOptions) {
    this.#records = new TokenRecords(options.storage, options.hashId);
    this.#leases = options.leases;
    this.#defaults = options.defaults;
    this.#renewLogin = options.renewLogin;
  }

  /** The records (routes and tidy). */
  get records(): TokenRecords {
    return this.#records;
  }

  /** The system's token TTLs. */
  get defaults(): TtlLimits {
    return this.#defaults;
  }

  /**
   * The live entry of id, or undefined for ANY failure (missing, malformed id, expired,
   * revoked, uses spent, bound CIDR mismatch): one answer, no oracle. No write.
   */
  async validate(
    id: string,
    context: { nowMs: number; clientAddress?: string },
  ): Promise<TokenEntry | undefined> {
    if (typeof id !== 'string' || !isTokenIdShaped(id)) {
      return undefined;
    }
    const entry = (await this.#records.read(this.#records.keyOf(id)))?.entry;
    if (
      entry === undefined ||
      !isLive(entry, context.nowMs) ||
      !isAddressAllowed(entry.boundCidrs, context.clientAddress) ||
      !(await this.#ancestorsLive(entry, context.nowMs))
    ) {
      return undefined;
    }
    return entry;
  }

  /**
   * True when every ancestor of entry still exists, is not marked revoked and has not expired:
   * a revocation marks the parent first and reaches children one by one (or is interrupted),
   * and a child must be dead from the parent's mark on.
   */
  async #ancestorsLive(entry: TokenEntry, nowMs: number): Promise<boolean> {
    let parentKey = entry.parentKey;
    for (let depth = 0; parentKey !== undefined; depth++) {
      if (depth >= ancestorsCheckedMax) {
        return false;
      }
      const parent = (await this.#records.read(parentKey))?.entry;
      if (
        parent === undefined ||
        parent.revokedMs !== undefined ||
        (parent.expireMs !== 0 && nowMs >= parent.expireMs)
      ) {
        return false;
      }
      parentKey = parent.parentKey;
    }
    return true;
  }

  /**
   * Spends one use of a use-limited token by one committed conditional write, before its
   * request runs; false when no use is left (or a racing request took the last). Unlimited
   * tokens: true, no write. When this takes the last use the token is dead from now on; call
   * settleUse() after the request to revoke it.
   */
  async consumeUse(entry: TokenEntry, nowMs: number): Promise<boolean> {
    if (entry.numUses === 0 && !entry.usesExhausted) {
      return true;
    }
    for (let attempt = 0; attempt < retriesMax; attempt += 1) {
      const read = await this.#records.read(entry.key);
      if (read === undefined || !isLive(read.entry, nowMs)) {
        return false;
      }
      const left = read.entry.numUses - 1;
      const next: TokenEntry = { ...read.entry, numUses: left, usesExhausted: left === 0 };
      if (await this.#records.replace(read, next)) {
        return true;
      }
    }
    return false;
  }

  /** After the request of a use-limited token: revokes it when its last use was taken. */
  async settleUse(entry: TokenEntry, nowMs: number): Promise<void> {
    if (entry.numUses === 0) {
      return;
    }
    const read = await this.#records.read(entry.key);
    if (read !== undefined && read.entry.usesExhausted) {
      await this.revokeTree(read.entry, nowMs);
    }
  }

  /**
   * Issues the token of a login: TTLs within the mount's tune and the system max, `default`
   * added to the policies, an orphan (logins have no parent), its lease registered. The AuthInfo
   * is the only place the id exists in clear.
   */
  async issueForLogin(
    auth: LoginAuth,
    context: { mount: MountInfo; path: string; nowMs: number },
  ): Promise<AuthInfo> {
    const { mount, nowMs } = context;
    const limits = this.limitsOf(mount);
    const maxTtl =
      auth.maxTtlSeconds > 0
        ? Math.min(auth.maxTtlSeconds, limits.maxTtlSeconds)
        : limits.maxTtlSeconds;
    const capped = { defaultTtlSeconds: limits.defaultTtlSeconds, maxTtlSeconds: maxTtl };
    const { periodSeconds } = capPeriod(auth.periodSeconds ?? 0, capped);
    const ttl = planTtl(
      { ttlSeconds: auth.ttlSeconds, explicitMaxTtlSeconds: 0, periodSeconds, root: false },
      { limits: capped, nowMs },
    );
    const policies = normalizePolicies(auth.policies).filter((p) => p !== wrappingPolicy);
    if (policies.includes(rootPolicy)) {
      throw new CoreError(
        CoreErrorCode.invalidRequest,
        'Remove the "root" policy from the auth method\'s role: a login never issues a root token',
      );
    }
    const mountName = mount.path
      .replace(/^auth\//, '')
      .replace(/\/$/, '')
      .replaceAll('/', '-');
    const { id, entry } = await this.issue({
      kind: TokenKind.service,
      policies: withDefault(policies, false),
      ttl,
      periodSeconds,
      numUses: Math.max(0, auth.numUses),
      renewable: auth.renewable,
      displayName: auth.displayName === '' ? mountName : `${mountName}-${auth.displayName}`,
      metadata: { ...auth.metadata },
      boundCidrs: checkBoundCidrs(auth.boundCidrs ?? []),
      path: context.path,
      mountAccessor: mount.accessor,
      ...(auth.internal === undefined ? {} : { internal: auth.internal }),
      nowMs,
    });
    return authInfoOf(id, entry);
  }

  /** A single-use orphan token with only the `response-wrapping` policy. */
  async issueWrapping(context: {
    ttlSeconds: number;
    creationPath: string;
    nowMs: number;
  }): Promise<{ token: string; accessor: string; key: string }> {
    const expireMs = context.nowMs + context.ttlSeconds * 1000;
    const { id, entry } = await this.issue({
      kind: TokenKind.wrapping,
      policies: [wrappingPolicy],
      ttl: {
        ttlSeconds: context.ttlSeconds,
        explicitMaxTtlSeconds: context.ttlSeconds,
        expireMs,
        maxExpireMs: expireMs,
        warnings: [],
      },
      periodSeconds: 0,
      numUses: 1,
      renewable: false,
      displayName: 'response-wrapping',
      metadata: {},
      boundCidrs: [],
      path: context.creationPath,
      nowMs: context.nowMs,
    });
    return { token: id, accessor: entry.accessor, key: entry.key };
  }

  /** The TTL limits of tokens issued on `mount` (its tune, within the system's). */
  limitsOf(mount: MountInfo): TtlLimits {
    const max = Math.min(
      mount.maxLeaseTtlSeconds || this.#defaults.maxTtlSeconds,
      this.#defaults.maxTtlSeconds,
    );
    const ttl = mount.defaultLeaseTtlSeconds || this.#defaults.defaultTtlSeconds;
    return { defaultTtlSeconds: Math.min(ttl, max || ttl), maxTtlSeconds: max };
  }

  /**
   * Issues a token: registers its lease (when it expires), then writes its entry, accessor and
   * child index in one batch, conditional on the parent being unchanged (not revoked meanwhile).
   */
  async issue(spec: IssueSpec): Promise<{ id: string; entry: TokenEntry }> {
    let parent = spec.parent;
    for (let attempt = 0; attempt < retriesMax; attempt += 1) {
      const id = newTokenId();
      const key = this.#records.keyOf(id);
      const entry = this.#entryOf(spec, {
        key,
        accessor: newAccessor(),
        parentKey: parent?.entry.key,
      });
      const leaseId = await this.#registerLease(entry);
      const stored: TokenEntry = leaseId === undefined ? entry : { ...entry, leaseId };
      const outcome = await this.#records.storage.write(this.#issueBatch(stored, parent));
      if (outcome.ok) {
        return { id, entry: stored };
      }
      if (leaseId !== undefined) {
        await this.#leases.forget(leaseId);
      }
      if (parent !== undefined && outcome.key === entryPath(parent.entry.key)) {
        parent = await this.#records.read(parent.entry.key);
        if (
          parent === undefined ||
          !(isLive(parent.entry, spec.nowMs) || isInLastUse(parent.entry, spec.nowMs))
        ) {
          throw parentGone();
        }
      }
    }
    throw new CoreError(
      CoreErrorCode.writeRefused,
      'Retry the request: the token could not be stored',
    );
  }

  #entryOf(
    spec: IssueSpec,
    ids: { key: string; accessor: string; parentKey: string | undefined },
  ): TokenEntry {
    return {
      version: tokenEntryVersion,
      key: ids.key,
      accessor: ids.accessor,
      kind: spec.kind,
      policies: normalizePolicies(spec.policies),
      ...(ids.parentKey === undefined ? {} : { parentKey: ids.parentKey }),
      orphan: ids.parentKey === undefined,
      createdMs: spec.nowMs,
      expireMs: spec.ttl.expireMs,
      ttlSeconds: spec.ttl.ttlSeconds,
      explicitMaxTtlSeconds: spec.ttl.explicitMaxTtlSeconds,
      maxExpireMs: spec.ttl.maxExpireMs,
      periodSeconds: spec.periodSeconds,
      numUses: spec.numUses,
      usesExhausted: false,
      renewable: spec.renewable,
      displayName: spec.displayName,
      metadata: spec.metadata,
      boundCidrs: spec.boundCidrs,
      path: spec.path,
      ...(spec.mountAccessor === undefined ? {} : { mountAccessor: spec.mountAccessor }),
      ...(spec.internal === undefined ? {} : { internal: spec.internal }),
    };
  }

  async #registerLease(entry: TokenEntry): Promise<string | undefined> {
    if (entry.expireMs === 0) {
      return undefined;
    }
    return this.#leases.registerToken({
      tokenKey: entry.key,
      creationPath: entry.path,
      issuedMs: entry.createdMs,
      expireMs: entry.expireMs,
      maxExpireMs: entry.maxExpireMs,
      ttlSeconds: entry.ttlSeconds,
      renewable: entry.renewable,
    });
  }

  #issueBatch(entry: TokenEntry, parent: VersionedEntry | undefined) {
    const accessorKey = accessorPath(this.#records.accessorKeyOf(entry.accessor));
    const conditions: WriteCondition[] = [
      { kind: 'absent', key: entryPath(entry.key) },
      { kind: 'absent', key: accessorKey },
    ];
    const operations: WriteOperation[] = [
      { kind: 'put', key: entryPath(entry.key), value: jsonBytes(entry) },
      { kind: 'put', key: accessorKey, value: jsonBytes({ tokenKey: entry.key }) },
    ];
    if (parent !== undefined) {
      conditions.push({
        kind: 'version',
        key: entryPath(parent.entry.key),
        version: parent.version,
      });
      operations.push({
        kind: 'put',
        key: childPath(parent.entry.key, entry.key),
        value: jsonBytes({}),
      });
    }
    return { conditions, operations };
  }

  /** The caller info the router hands to handlers. */
  callerOf(entry: TokenEntry): CallerInfo {
    return callerInfoOf(entry);
  }

  /** Revokes the token, its children recursively and every lease any of them created. */
  revokeTree(entry: TokenEntry, nowMs: number): Promise<void> {
    return this.revokeByKey(entry.key, nowMs);
  }

  /** revokeTree by token key (the expiration manager's `revokeToken`). */
  revokeByKey(key: string, nowMs: number): Promise<void> {
    return revokeTree({ records: this.#records, leases: this.#leases }, { key, nowMs });
  }

  /** Revokes the token and its leases; its children become orphans. */
  revokeOrphan(entry: TokenEntry, nowMs: number): Promise<void> {
    return revokeOrphan(
      { records: this.#records, leases: this.#leases },
      { key: entry.key, nowMs },
    );
  }

  /** Marks a token revoked without cleaning up (tests of interrupted revocations). */
  async markRevoked(entry: TokenEntry, nowMs: number): Promise<void> {
    await markRevoked({ records: this.#records, leases: this.#leases }, { key: entry.key, nowMs });
  }

  /**
   * Renews a live token by incrementSeconds (0: its creation TTL; periodic: one period), never
   * past its max TTL; the auth method of a login token is asked first. Moves its lease, then
   * its entry (a crash between leaves the shorter expiry in force).
   */
  async renew(
    entry: TokenEntry,
    input: { incrementSeconds: number; nowMs: number },
  ): Promise<{ entry: TokenEntry; ttlSeconds: number; warnings: readonly string[] }> {
    if (this.#renewLogin !== undefined && entry.mountAccessor !== undefined) {
      await this.#renewLogin(entry, input.nowMs);
    }
    for (let attempt = 0; attempt < retriesMax; attempt += 1) {
      const read = await this.#records.read(entry.key);
      if (
        read === undefined ||
        !(isLive(read.entry, input.nowMs) || isInLastUse(read.entry, input.nowMs))
      ) {
        throw parentGone();
      }
      const plan = planRenewal(read.entry, input);
      if (read.entry.leaseId !== undefined) {
        await this.#leases.extendToken(read.entry.leaseId, {
          expireMs: plan.expireMs,
          nowMs: input.nowMs,
        });
      }
      const next: TokenEntry = {
        ...read.entry,
        expireMs: plan.expireMs,
        lastRenewedMs: input.nowMs,
      };
      if (await this.#records.replace(read, next)) {
        return { entry: next, ttlSeconds: plan.ttlSeconds, warnings: plan.warnings };
      }
    }
    throw new CoreError(CoreErrorCode.writeRefused, 'Retry the renewal: the token kept changing');
  }

  /** The entry of a live token id (no bound-CIDR check: lookups of another token), or undefined. */
  async findLive(id: string, nowMs: number): Promise<TokenEntry | undefined> {
    if (typeof id !== 'string' || !isTokenIdShaped(id)) {
      return undefined;
    }
    const entry = (await this.#records.read(this.#records.keyOf(id)))?.entry;
    return entry !== undefined && isLive(entry, nowMs) ? entry : undefined;
  }

  /**
   * The entry of the token with this accessor when live (or, with `lastUse`, running its last
   * use: the caller's own token in its last request), or undefined.
   */
  async findByAccessor(
    accessor: string,
    context: { nowMs: number; lastUse?: boolean },
  ): Promise<TokenEntry | undefined> {
    const entry = (await this.#records.readByAccessor(accessor))?.entry;
    if (entry === undefined) {
      return undefined;
    }
    const ok =
      isLive(entry, context.nowMs) ||
      (context.lastUse === true && isInLastUse(entry, context.nowMs));
    return ok ? entry : undefined;
  }

  /** True when token key `key` has an entry (the expiration manager's tidy asks). */
  async exists(key: string): Promise<boolean> {
    return (await this.#records.storage.versionOf(entryPath(key))) !== undefined;
  }

  /** Cleans up: dangling indexes, tokens of revoked parents, interrupted revocations. */
  tidy(nowMs: number): Promise<TokenTidyReport> {
    return tidyTokens(this, nowMs);
  }

  /** The routes of the `auth/token/` mount. */
  backend(): Backend {
    return tokenBackend(this);
  }
}
