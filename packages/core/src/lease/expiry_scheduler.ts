/**
 * The expiry loop of the active node: one timer for the earliest due lease; when it fires, a
 * pass pages through the expiry index in due order, `pageSize` keys at a time, and revokes what
 * is due at the pace the token bucket and the concurrency bound allow; then it sets the timer
 * for the next due lease.
 *
 * ```
 *  start() ──▶ schedule ──timer──▶ pass ─(page of due keys)─▶ revoke (≤ concurrency, bucket)
 *               ▲                    │            ▲                     │
 *               └──── next due ◀─────┘            └──── next page ◀─────┘
 * ```
 *
 * Invariant: memory holds at most one page of index keys and `concurrency` leases: a million
 * leases are never loaded at once (pageKeysMax counts it for tests). Nothing runs unless
 * started; stop() cancels the timer, releases the bucket and waits for the pass in flight.
 */
import type { DriverClock } from '@coffer/raft/node';

import type { LeaseRecords } from './lease_records.ts';
import { errorCodeOf, type LeaseLogger, type LeaseRevoker } from './lease_revoker.ts';
import { TokenBucket, type RevocationRate } from './revocation_limits.ts';
import { expiryPrefix, parseExpiryPath } from './stored_lease.ts';

/** Options of the scheduler. */
export interface ExpirySchedulerOptions {
  readonly records: LeaseRecords;
  readonly revoker: LeaseRevoker;
  readonly clock: DriverClock;
  readonly wallClockMs: () => number;
  readonly rate: RevocationRate;
  readonly logger: LeaseLogger | undefined;
  /** Index keys read per page. */
  readonly pageSize: number;
  /** The longest the timer waits before looking at the index again. */
  readonly rescanIntervalMs: number;
}

/** The wait after a failed pass before the next one. */
const passGapMs = 1000;

/** The expiry loop. */
export class ExpiryScheduler {
  readonly #o: ExpirySchedulerOptions;
  #running = false;
  #bucket: TokenBucket;
  #timer: { cancel(): void } | undefined;
  #timerDueMs: number | undefined;
  #draining: Promise<void> | undefined;
  #again = false;
  /** The most index keys one page held (tests check the memory bound with it). */
  pageKeysMax = 0;

  constructor(options: ExpirySchedulerOptions) {
    this.#o = options;
    this.#bucket = new TokenBucket(options.clock, options.rate);
  }

  /** Starts the loop: schedules the earliest due lease (revoking at once what is overdue). */
  async start(): Promise<void> {
    if (this.#running) {
      return;
    }
    this.#running = true;
    this.#bucket = new TokenBucket(this.#o.clock, this.#o.rate);
    await this.#schedule(0);
  }

  /** Stops the loop and waits for the pass in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#cancelTimer();
    this.#bucket.stop();
    await this.settled();
  }

  /** Resolves when no pass is running (tests; stop()). */
  async settled(): Promise<void> {
    while (this.#draining !== undefined) {
      await this.#draining;
    }
  }

  /** A lease became due at dueMs: wakes the timer earlier if needed. */
  notify(dueMs: number): void {
    if (!this.#running || (this.#timerDueMs !== undefined && this.#timerDueMs <= dueMs)) {
      return;
    }
    if (this.#draining !== undefined) {
      // The pass in flight schedules the next due lease from the index when it ends.
      return;
    }
    this.#setTimer(Math.max(0, dueMs - this.#o.wallClockMs()));
  }

  async #schedule(minDelayMs: number): Promise<void> {
    if (!this.#running) {
      return;
    }
    const page = await this.#o.records.storage.list(expiryPrefix, { limit: 1 });
    if (!this.#isRunning()) {
      return;
    }
    const firstKey = page.keys[0];
    // A malformed index key counts as due: the pass drops it.
    const firstDueMs = firstKey === undefined ? undefined : (parseExpiryPath(firstKey)?.dueMs ?? 0);
    const delayMs =
      firstDueMs === undefined
        ? this.#o.rescanIntervalMs
        : Math.min(
            this.#o.rescanIntervalMs,
            Math.max(minDelayMs, firstDueMs - this.#o.wallClockMs()),
          );
    if (delayMs <= 0) {
      this.#wake();
    } else {
      this.#setTimer(delayMs);
    }
  }

  #isRunning(): boolean {
    return this.#running;
  }

  /** Whether a wake came during the pass (and clears it). */
  #takeAgain(): boolean {
    const again = this.#again;
    this.#again = false;
    return again;
  }

  #setTimer(delayMs: number): void {
    this.#cancelTimer();
    this.#timerDueMs = this.#o.wallClockMs() + delayMs;
    this.#timer = this.#o.clock.setTimer(delayMs, () => {
      this.#timer = undefined;
      this.#timerDueMs = undefined;
      this.#wake();
    });
  }

  #cancelTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerDueMs = undefined;
  }

  #wake(): void {
    if (!this.#running) {
      return;
    }
    if (this.#draining !== undefined) {
      this.#again = true;
      return;
    }
    this.#cancelTimer();
    this.#draining = this.#drain();
  }

  async #drain(): Promise<void> {
    let gapMs = 0;
    try {
      this.#again = false;
      do {
        await this.#pass();
      } while (this.#takeAgain() && this.#isRunning());
    } catch (error) {
      // A failed pass (storage unavailable, lost leadership) waits before the next one.
      gapMs = passGapMs;
      this.#o.logger?.warn('lease_expiry_pass_failed', { code: errorCodeOf(error) });
    } finally {
      this.#draining = undefined;
    }
    await this.#schedule(gapMs).catch((error: unknown) => {
      this.#o.logger?.warn('lease_expiry_schedule_failed', { code: errorCodeOf(error) });
      if (this.#running) {
        this.#setTimer(this.#o.rescanIntervalMs);
      }
    });
  }

  /** Revokes every lease due now, page by page, in due order. */
  async #pass(): Promise<void> {
    const nowMs = this.#o.wallClockMs();
    const concurrency = Math.max(1, this.#o.rate.concurrency ?? 16);
    let after: string | undefined;
    while (this.#isRunning()) {
      const page = await this.#o.records.storage.list(
        expiryPrefix,
        after === undefined ? { limit: this.#o.pageSize } : { after, limit: this.#o.pageSize },
      );
      this.pageKeysMax = Math.max(this.pageKeysMax, page.keys.length);
      const due = page.keys.filter((key) => (parseExpiryPath(key)?.dueMs ?? 0) <= nowMs);
      for (let start = 0; start < due.length && this.#running; start += concurrency) {
        const chunk: Promise<void>[] = [];
        for (const key of due.slice(start, start + concurrency)) {
          if (!(await this.#bucket.take())) {
            break;
          }
          chunk.push(this.#expire(key));
        }
        await Promise.all(chunk);
      }
      if (due.length < page.keys.length || page.cursor === undefined) {
        return;
      }
      after = page.cursor;
    }
  }

  /** Revokes the lease of one index key, or drops the key when it is stale. */
  async #expire(key: string): Promise<void> {
    const parsed = parseExpiryPath(key);
    const read = parsed === undefined ? undefined : await this.#o.records.read(parsed.leaseId);
    if (
      parsed === undefined ||
      read === undefined ||
      read.lease.dueMs !== parsed.dueMs ||
      read.lease.irrevocable !== undefined
    ) {
      await this.#o.records.removeKey(key);
      return;
    }
    await this.#o.revoker.attempt(parsed.leaseId, { force: false });
  }
}
