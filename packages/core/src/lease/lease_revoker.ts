/**
 * One revocation attempt of one lease, and what a failure does: the lease is rescheduled after
 * an exponential backoff with jitter, and after `failuresMax` failures it is marked irrevocable
 * (a stored flag, logged, listed by irrevocable()) and no longer retried automatically;
 * revoke-force removes it.
 *
 * Invariant: at most one attempt per lease runs at a time in this process (concurrent callers
 * share it), and a lease is deleted only after its backend revocation succeeded (or was forced).
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { LeaseRecords, VersionedLease } from './lease_records.ts';
import { retryDelayMs, type RevocationRetry } from './revocation_limits.ts';
import { LeaseKind, type StoredLease } from './stored_lease.ts';

/** Where the manager logs (fields are never secrets: lease ids, codes, counts). */
export interface LeaseLogger {
  info(event: string, fields: Record<string, string | number | boolean>): void;
  warn(event: string, fields: Record<string, string | number | boolean>): void;
}

/** What revoking a lease calls. */
export interface RevokeCallbacks {
  /** Revokes a secret at its backend (the router finds the backend by `lease.mount`). */
  readonly revokeSecret: (lease: StoredLease) => Promise<void>;
  /** Revokes a token, its children and their leases (the token store). */
  readonly revokeToken: (tokenKey: string) => Promise<void>;
}

/** The outcome of an attempt. */
export type AttemptOutcome = 'revoked' | 'missing' | 'failed';

/** Counters for tests and metrics. */
export interface RevokerCounters {
  revoked: number;
  failed: number;
  inFlight: number;
  inFlightMax: number;
}

/** The code of an error, for storage and logs (never its message). */
export function errorCodeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code.slice(0, 64) : 'unknown';
}

/** Revokes single leases. */
export class LeaseRevoker {
  readonly #records: LeaseRecords;
  readonly #callbacks: RevokeCallbacks;
  readonly #retry: RevocationRetry;
  readonly #wallClockMs: () => number;
  readonly #logger: LeaseLogger | undefined;
  readonly #pending = new Map<string, Promise<AttemptOutcome>>();
  readonly counters: RevokerCounters = { revoked: 0, failed: 0, inFlight: 0, inFlightMax: 0 };

  constructor(options: {
    readonly records: LeaseRecords;
    readonly callbacks: RevokeCallbacks;
    readonly retry: RevocationRetry;
    readonly wallClockMs: () => number;
    readonly logger: LeaseLogger | undefined;
  }) {
    this.#records = options.records;
    this.#callbacks = options.callbacks;
    this.#retry = options.retry;
    this.#wallClockMs = options.wallClockMs;
    this.#logger = options.logger;
  }

  /**
   * Revokes lease `leaseId` now. With `force`, a backend failure is logged and the lease is
   * deleted anyway; without, the failure is recorded and the lease rescheduled.
   */
  attempt(leaseId: string, options: { force: boolean }): Promise<AttemptOutcome> {
    const running = this.#pending.get(leaseId);
    if (running !== undefined) {
      return running;
    }
    const attempt = this.#attempt(leaseId, options).finally(() => {
      this.#pending.delete(leaseId);
    });
    this.#pending.set(leaseId, attempt);
    return attempt;
  }

  async #attempt(leaseId: string, options: { force: boolean }): Promise<AttemptOutcome> {
    const read = await this.#records.read(leaseId);
    if (read === undefined) {
      return 'missing';
    }
    const counters = this.counters;
    counters.inFlight += 1;
    counters.inFlightMax = Math.max(counters.inFlightMax, counters.inFlight);
    try {
      await this.#callBackend(read.lease);
    } catch (error) {
      if (!options.force) {
        counters.failed += 1;
        await this.#recordFailure(read, error);
        return 'failed';
      }
      this.#logger?.warn('lease_revoke_forced', { leaseId, code: errorCodeOf(error) });
    } finally {
      counters.inFlight -= 1;
    }
    await this.#records.remove(read.lease);
    counters.revoked += 1;
    return 'revoked';
  }

  async #callBackend(lease: StoredLease): Promise<void> {
    if (lease.kind === LeaseKind.token) {
      if (lease.tokenKey !== undefined) {
        await this.#callbacks.revokeToken(lease.tokenKey);
      }
      return;
    }
    await this.#callbacks.revokeSecret(lease);
  }

  async #recordFailure(read: VersionedLease, error: unknown): Promise<void> {
    const lease = read.lease;
    const failures = lease.revokeFailures + 1;
    const code = errorCodeOf(error);
    const nowMs = this.#wallClockMs();
    const failuresMax = this.#retry.failuresMax ?? 6;
    const next: StoredLease =
      failures >= failuresMax
        ? {
            ...lease,
            revokeFailures: failures,
            lastFailureCode: code,
            irrevocable: { sinceMs: nowMs, code },
          }
        : {
            ...lease,
            revokeFailures: failures,
            lastFailureCode: code,
            dueMs: nowMs + retryDelayMs(failures, this.#retry),
          };
    // A lost race means someone else changed the lease (renewed, revoked): it is seen again.
    if (!(await this.#records.update(read, next))) {
      return;
    }
    if (next.irrevocable !== undefined) {
      this.#logger?.warn('lease_irrevocable', { leaseId: lease.leaseId, failures, code });
    } else {
      this.#logger?.info('lease_revoke_retry', {
        leaseId: lease.leaseId,
        failures,
        code,
        retryInMs: next.dueMs - nowMs,
      });
    }
  }
}

/** The error of an explicit revocation whose backend failed (it is retried in the background). */
export function revokeFailed(count: number): CoreError {
  return new CoreError(
    CoreErrorCode.internal,
    `Retry later or use revoke-force: ${count} lease${count === 1 ? '' : 's'} could not be revoked ` +
      'by ' +
      (count === 1 ? 'its' : 'their') +
      ' backend and will be retried in the background',
  );
}
