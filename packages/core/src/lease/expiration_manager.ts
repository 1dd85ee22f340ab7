/**
 * The expiration manager (Vault's ExpirationManager): every secret a backend returns with a
 * lease and every token that can expire is registered here, stored with an expiry index, renewed
 * within its max TTL, and revoked when it expires, when its token is revoked, by prefix (mount
 * disable, revoke-prefix) or on request.
 *
 * Expiry runs only on the active node between start() and stop() (ExpiryScheduler); the other
 * operations work whenever the node can write. A manager over the same storage after a restart
 * or a failover finds everything from the index, including leases that expired while no
 * manager ran.
 *
 * Invariant: every value written (lease ids, instants) is fixed before the write; instants come
 * from the request (`nowMs`) or from `wallClockMs`, never from inside a storage callback.
 */
import type { DriverClock } from '@coffer/raft/node';

import { CoreError, CoreErrorCode } from '../errors.ts';
import type { Backend, MountInfo, SecretLease } from '../router/backend.ts';
import type { LeaseInfo } from '../router/request.ts';
import type { StorageView } from '../router/storage_view.ts';
import { ExpiryScheduler } from './expiry_scheduler.ts';
import { LeaseRecords } from './lease_records.ts';
import {
  type LeaseLogger,
  LeaseRevoker,
  revokeFailed,
  type RevokeCallbacks,
} from './lease_revoker.ts';
import { leaseBackend } from './lease_routes.ts';
import { tidyLeases, type LeaseTidyReport } from './lease_tidy.ts';
import type { IrrevocableLease, LeaseView } from './lease_views.ts';
import type { RevocationRate, RevocationRetry } from './revocation_limits.ts';
import {
  irrevocablePrefix,
  LeaseKind,
  leasesPrefix,
  newLeaseId,
  type StoredLease,
  storedLeaseVersion,
  tokenLeasesPrefix,
} from './stored_lease.ts';

/** Options of an {@link ExpirationManager}. */
export interface ExpirationManagerOptions extends RevokeCallbacks {
  /** The lease store's view (raw state path `sys/expire/`). */
  readonly storage: StorageView;
  /** Timers of the expiry loop. */
  readonly clock: DriverClock;
  /** Wall-clock time in ms since the epoch (lease instants). */
  readonly wallClockMs: () => number;
  /** Tells tidy whether a token still exists (by key); absent: tidy keeps leases of any token. */
  readonly tokenExists?: (tokenKey: string) => Promise<boolean>;
  readonly logger?: LeaseLogger;
  readonly revocationRate?: RevocationRate;
  readonly retry?: RevocationRetry;
  /** Index keys read per page by expiry, revoke-prefix and tidy. Default 500. */
  readonly pageSize?: number;
  /** The longest the expiry timer sleeps before looking again. Default 10 min. */
  readonly rescanIntervalMs?: number;
}

/** What a token's lease is registered with. */
export interface TokenLeaseInput {
  readonly tokenKey: string;
  /** The token's creation path (`auth/token/create`, `auth/approle/login`): the lease id base. */
  readonly creationPath: string;
  readonly issuedMs: number;
  readonly expireMs: number;
  readonly maxExpireMs: number;
  readonly ttlSeconds: number;
  readonly renewable: boolean;
}

/** Counters for tests and metrics. */
export interface ExpirationMetrics {
  /** The most expiry index keys held in memory by one page. */
  readonly pageKeysMax: number;
  /** The most revocations that ran at once. */
  readonly inFlightMax: number;
  readonly revoked: number;
  readonly failed: number;
}

/** Vault's default lease TTL (768 h), when a mount has no default at all. */
const fallbackTtlSeconds = 768 * 3600;

function leaseGone(): CoreError {
  return new CoreError(
    CoreErrorCode.leaseInvalid,
    'Check the lease id: the lease does not exist, has expired or was revoked',
  );
}

/** Registers, renews and revokes leases. */
export class ExpirationManager {
  readonly #o: ExpirationManagerOptions;
  readonly #records: LeaseRecords;
  readonly #revoker: LeaseRevoker;
  readonly #scheduler: ExpiryScheduler;
  readonly #pageSize: number;

  constructor(options: ExpirationManagerOptions) {
    this.#o = options;
    this.#records = new LeaseRecords(options.storage);
    this.#pageSize = Math.max(1, options.pageSize ?? 500);
    this.#revoker = new LeaseRevoker({
      records: this.#records,
      callbacks: { revokeSecret: options.revokeSecret, revokeToken: options.revokeToken },
      retry: options.retry ?? {},
      wallClockMs: options.wallClockMs,
      logger: options.logger,
    });
    this.#scheduler = new ExpiryScheduler({
      records: this.#records,
      revoker: this.#revoker,
      clock: options.clock,
      wallClockMs: options.wallClockMs,
      rate: options.revocationRate ?? {},
      logger: options.logger,
      pageSize: this.#pageSize,
      rescanIntervalMs: options.rescanIntervalMs ?? 600_000,
    });
  }

  /** Registers the lease of a secret a backend returned, bounded by the mount's TTLs. */
  async registerSecret(input: {
    mount: MountInfo;
    path: string;
    tokenKey: string | undefined;
    secret: SecretLease;
    nowMs: number;
  }): Promise<LeaseInfo> {
    const { mount, secret, nowMs } = input;
    const maxSeconds = mount.maxLeaseTtlSeconds;
    let ttl = secret.ttlSeconds || mount.defaultLeaseTtlSeconds || maxSeconds || fallbackTtlSeconds;
    if (maxSeconds > 0 && ttl > maxSeconds) {
      ttl = maxSeconds;
    }
    const lease: StoredLease = {
      version: storedLeaseVersion,
      leaseId: newLeaseId(`${mount.path}${input.path}`),
      kind: LeaseKind.secret,
      mount: { uuid: mount.uuid, path: mount.path, accessor: mount.accessor, type: mount.type },
      path: input.path,
      ...(input.tokenKey === undefined ? {} : { tokenKey: input.tokenKey }),
      issuedMs: nowMs,
      expireMs: nowMs + ttl * 1000,
      maxExpireMs: maxSeconds > 0 ? nowMs + maxSeconds * 1000 : 0,
      ttlSeconds: ttl,
      renewable: secret.renewable,
      internal: secret.internal,
      dueMs: nowMs + ttl * 1000,
      revokeFailures: 0,
    };
    await this.#create(lease);
    return { leaseId: lease.leaseId, ttlSeconds: ttl, renewable: secret.renewable };
  }

  /** Registers the lease of a token that expires; returns its lease id. */
  async registerToken(input: TokenLeaseInput): Promise<string> {
    const lease: StoredLease = {
      version: storedLeaseVersion,
      leaseId: newLeaseId(input.creationPath),
      kind: LeaseKind.token,
      path: input.creationPath,
      tokenKey: input.tokenKey,
      issuedMs: input.issuedMs,
      expireMs: input.expireMs,
      maxExpireMs: input.maxExpireMs,
      ttlSeconds: input.ttlSeconds,
      renewable: input.renewable,
      internal: {},
      dueMs: input.expireMs,
      revokeFailures: 0,
    };
    await this.#create(lease);
    return lease.leaseId;
  }

  async #create(lease: StoredLease): Promise<void> {
    if (!(await this.#records.create(lease))) {
      throw new CoreError(CoreErrorCode.writeRefused, 'Retry the request: a lease id collided');
    }
    this.#records.storage.afterCommit(() => {
      this.#scheduler.notify(lease.dueMs);
    });
  }

  /** Moves a token's lease to its renewed expiry (the token store checked the max TTL). */
  async extendToken(leaseId: string, input: { expireMs: number; nowMs: number }): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const read = await this.#records.read(leaseId);
      if (
        read === undefined ||
        read.lease.irrevocable !== undefined ||
        read.lease.revokeFailures > 0
      ) {
        throw leaseGone();
      }
      const next: StoredLease = {
        ...read.lease,
        expireMs: input.expireMs,
        dueMs: input.expireMs,
        lastRenewedMs: input.nowMs,
      };
      if (await this.#records.update(read, next)) {
        return;
      }
    }
    throw new CoreError(CoreErrorCode.writeRefused, 'Retry the renewal: the lease kept changing');
  }

  /** Deletes a lease without calling its backend (a token store cleaning up its own lease). */
  async forget(leaseId: string): Promise<void> {
    const read = await this.#records.read(leaseId);
    if (read !== undefined) {
      await this.#records.remove(read.lease);
    }
  }

  /** The lease `leaseId`, or COFFER_CORE_LEASE_INVALID. */
  async lookup(leaseId: string, nowMs: number): Promise<LeaseView> {
    const read = await this.#records.read(leaseId);
    if (read === undefined) {
      throw leaseGone();
    }
    return viewOf(read.lease, nowMs);
  }

  /** Renews a secret's lease by incrementSeconds (0: its TTL), never past its max TTL. */
  async renew(
    leaseId: string,
    input: { incrementSeconds: number; nowMs: number },
  ): Promise<{ lease: LeaseInfo; warnings: string[] }> {
    const { nowMs } = input;
    const read = await this.#records.read(leaseId);
    const lease = read?.lease;
    if (
      read === undefined ||
      lease === undefined ||
      lease.irrevocable !== undefined ||
      lease.revokeFailures > 0 ||
      lease.expireMs <= nowMs
    ) {
      throw leaseGone();
    }
    if (lease.kind === LeaseKind.token) {
      throw new CoreError(
        CoreErrorCode.invalidRequest,
        'Renew tokens with auth/token/renew: this lease is a token',
      );
    }
    if (!lease.renewable) {
      throw new CoreError(
        CoreErrorCode.leaseInvalid,
        'Request a new secret: this lease is not renewable',
      );
    }
    const warnings: string[] = [];
    let ttl = input.incrementSeconds || lease.ttlSeconds;
    let expireMs = nowMs + ttl * 1000;
    if (lease.maxExpireMs > 0 && expireMs > lease.maxExpireMs) {
      const remaining = Math.max(0, Math.floor((lease.maxExpireMs - nowMs) / 1000));
      warnings.push(
        `TTL of ${ttl} seconds exceeded the effective max TTL of ${remaining} seconds; the TTL is capped accordingly`,
      );
      ttl = remaining;
      expireMs = lease.maxExpireMs;
    }
    const next: StoredLease = { ...lease, expireMs, dueMs: expireMs, lastRenewedMs: nowMs };
    if (!(await this.#records.update(read, next))) {
      throw new CoreError(
        CoreErrorCode.writeRefused,
        'Retry the renewal: the lease changed meanwhile',
      );
    }
    return { lease: { leaseId, ttlSeconds: ttl, renewable: true }, warnings };
  }

  /** Revokes one lease now; a backend failure is retried in the background and reported. */
  async revoke(leaseId: string): Promise<void> {
    const outcome = await this.#revoker.attempt(leaseId, { force: false });
    if (outcome === 'missing') {
      throw leaseGone();
    }
    if (outcome === 'failed') {
      throw revokeFailed(1);
    }
  }

  /**
   * Revokes every lease a token created (its children are the token store's). Leases whose
   * backend fails stay, scheduled for retry: the token's revocation does not wait for them.
   */
  async revokeByToken(tokenKey: string): Promise<void> {
    await this.#eachKey(tokenLeasesPrefix(tokenKey), async (key) => {
      const leaseId = key.slice(tokenLeasesPrefix(tokenKey).length);
      if ((await this.#revoker.attempt(leaseId, { force: false })) === 'missing') {
        await this.#records.removeKey(key);
      }
    });
  }

  /**
   * Revokes every lease whose id starts with prefix (a mount path when a mount is disabled);
   * returns how many were revoked. Throws COFFER_CORE_INTERNAL after the pass when some could not
   * be (they stay, retried in the background).
   */
  async revokePrefix(prefix: string, nowMs: number): Promise<number> {
    this.#o.logger?.info('leases_revoke_prefix_started', { prefix, atMs: nowMs });
    return this.#revokeUnder(prefix, false);
  }

  /** Like revokePrefix, but deletes each lease even when its backend fails. */
  async revokeForce(prefix: string): Promise<number> {
    return this.#revokeUnder(prefix, true);
  }

  async #revokeUnder(prefix: string, force: boolean): Promise<number> {
    const base = `${leasesPrefix}${prefix.endsWith('/') ? prefix : `${prefix}/`}`;
    let revoked = 0;
    let failed = 0;
    await this.#eachKey(base, async (key) => {
      const outcome = await this.#revoker.attempt(key.slice(leasesPrefix.length), { force });
      revoked += outcome === 'revoked' ? 1 : 0;
      failed += outcome === 'failed' ? 1 : 0;
    });
    this.#o.logger?.info('leases_revoked_by_prefix', { prefix, revoked, failed, force });
    if (failed > 0) {
      throw revokeFailed(failed);
    }
    return revoked;
  }

  /** Runs fn on every key under prefix, a page at a time, `concurrency` at once. */
  async #eachKey(prefix: string, fn: (key: string) => Promise<void>): Promise<void> {
    const concurrency = Math.max(1, this.#o.revocationRate?.concurrency ?? 16);
    let after: string | undefined;
    do {
      const page = await this.#records.storage.list(
        prefix,
        after === undefined ? { limit: this.#pageSize } : { after, limit: this.#pageSize },
      );
      for (let start = 0; start < page.keys.length; start += concurrency) {
        await Promise.all(page.keys.slice(start, start + concurrency).map(fn));
      }
      after = page.cursor;
    } while (after !== undefined);
  }

  /** Lease ids directly under prefix (Vault's LIST sys/leases/lookup/<prefix>), bounded. */
  async listPrefix(prefix: string): Promise<{ keys: string[]; truncated: boolean }> {
    const base = `${leasesPrefix}${prefix.endsWith('/') ? prefix : `${prefix}/`}`;
    const keys: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await this.#records.storage.list(
        base,
        after === undefined ? { limit: this.#pageSize } : { after, limit: this.#pageSize },
      );
      for (const key of page.keys) {
        const rest = key.slice(base.length);
        const slash = rest.indexOf('/');
        const child = slash === -1 ? rest : rest.slice(0, slash + 1);
        if (child !== '' && keys.at(-1) !== child) {
          keys.push(child);
        }
      }
      after = page.cursor;
      pages += 1;
    } while (after !== undefined && pages < 20);
    return { keys, truncated: after !== undefined };
  }

  /** Removes index entries of missing leases and revokes leases of tokens that no longer exist. */
  tidy(nowMs: number): Promise<LeaseTidyReport> {
    return tidyLeases({
      records: this.#records,
      pageSize: this.#pageSize,
      nowMs,
      tokenExists: this.#o.tokenExists,
      scheduleNow: (dueMs) => {
        this.#scheduler.notify(dueMs);
      },
    });
  }

  /** A page of the leases marked irrevocable. */
  async irrevocable(
    options: { after?: string; limit?: number } = {},
  ): Promise<{ leases: IrrevocableLease[]; cursor: string | undefined }> {
    const page = await this.#records.storage.list(irrevocablePrefix, {
      limit: Math.min(options.limit ?? 100, 1000),
      ...(options.after === undefined ? {} : { after: `${irrevocablePrefix}${options.after}` }),
    });
    const leases: IrrevocableLease[] = [];
    for (const key of page.keys) {
      const lease = (await this.#records.read(key.slice(irrevocablePrefix.length)))?.lease;
      if (lease?.irrevocable !== undefined) {
        leases.push({
          leaseId: lease.leaseId,
          mountPath: lease.mount?.path,
          sinceMs: lease.irrevocable.sinceMs,
          failures: lease.revokeFailures,
          code: lease.irrevocable.code,
        });
      }
    }
    const cursor = page.cursor?.slice(irrevocablePrefix.length);
    return { leases, cursor };
  }

  /** Starts expiry (active node only): schedules from storage, revoking what is overdue. */
  start(): Promise<void> {
    return this.#scheduler.start();
  }

  /** Stops expiry (standby, sealed) and waits for the pass in flight. */
  stop(): Promise<void> {
    return this.#scheduler.stop();
  }

  /** Resolves when no expiry pass is running (tests). */
  settled(): Promise<void> {
    return this.#scheduler.settled();
  }

  /** Counters for tests and metrics. */
  metrics(): ExpirationMetrics {
    const counters = this.#revoker.counters;
    return {
      pageKeysMax: this.#scheduler.pageKeysMax,
      inFlightMax: counters.inFlightMax,
      revoked: counters.revoked,
      failed: counters.failed,
    };
  }

  /** The routes of `sys/leases/*` (mounted in the `sys/` backend). */
  backend(): Backend {
    return leaseBackend(this);
  }
}

/** The lookup view of a lease at nowMs. */
function viewOf(lease: StoredLease, nowMs: number): LeaseView {
  return {
    leaseId: lease.leaseId,
    issuedMs: lease.issuedMs,
    expireMs: lease.expireMs,
    lastRenewedMs: lease.lastRenewedMs,
    renewable: lease.renewable,
    ttlSeconds: Math.max(0, Math.floor((lease.expireMs - nowMs) / 1000)),
  };
}
