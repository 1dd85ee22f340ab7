/**
 * The pace of lease revocation: a token bucket (revocations per second, with a burst) on the
 * driver clock, and the exponential backoff with jitter between failed attempts. A backend that
 * is down is not hammered when a million leases expire together, and many leases that failed
 * together do not retry in lockstep.
 *
 * Invariant: the bucket never holds more than `burst` tokens; a waiter is woken only by the
 * clock, and stop() releases every waiter with `false`.
 */
import { randomInt } from 'node:crypto';

import type { DriverClock } from '@coffer/raft/node';

/** How fast expired leases are revoked. */
export interface RevocationRate {
  /** Revocations running at once. Default 16. */
  readonly concurrency?: number;
  /** Revocations started per second on average. Default 200; Infinity: no limit. */
  readonly perSecond?: number;
  /** Revocations that may start at once after a quiet period. Default `perSecond` (max 1000). */
  readonly burst?: number;
}

/** How failed revocations are retried. */
export interface RevocationRetry {
  /** Failed attempts after which a lease is marked irrevocable. Default 6. */
  readonly failuresMax?: number;
  /** The wait after the first failure. Default 10 s. */
  readonly delayBaseMs?: number;
  /** The longest wait. Default 1 h. */
  readonly delayMaxMs?: number;
  /** A number in [0, 1) per wait (jitter); tests pass a seeded source. Default: crypto. */
  readonly random?: () => number;
}

const jitterResolution = 1 << 16;

function cryptoRandom(): number {
  return randomInt(jitterResolution) / jitterResolution;
}

/** The wait before the next attempt after `failures` (≥ 1) failed ones: 50–100 % of nominal. */
export function retryDelayMs(failures: number, retry: RevocationRetry): number {
  const base = retry.delayBaseMs ?? 10_000;
  const max = retry.delayMaxMs ?? 3_600_000;
  const nominal = Math.min(max, base * 2 ** Math.min(failures - 1, 40));
  const jitter = (retry.random ?? cryptoRandom)();
  return Math.max(1, Math.round(nominal * (0.5 + jitter / 2)));
}

interface Waiter {
  readonly timer: { cancel(): void };
  readonly resolve: (granted: boolean) => void;
}

/** A token bucket on a driver clock. */
export class TokenBucket {
  readonly #clock: DriverClock;
  readonly #perSecond: number;
  readonly #burst: number;
  #tokens: number;
  #lastMs: number;
  readonly #waiters = new Set<Waiter>();

  constructor(clock: DriverClock, rate: RevocationRate) {
    this.#clock = clock;
    this.#perSecond = rate.perSecond ?? 200;
    this.#burst = rate.burst ?? Math.min(1000, Math.max(1, this.#perSecond));
    this.#tokens = this.#burst;
    this.#lastMs = clock.nowMs();
  }

  /** Resolves true when a revocation may start, or false when the bucket was stopped. */
  take(): Promise<boolean> {
    if (this.#perSecond === Number.POSITIVE_INFINITY) {
      return Promise.resolve(true);
    }
    this.#refill();
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return Promise.resolve(true);
    }
    const waitMs = Math.ceil(((1 - this.#tokens) * 1000) / this.#perSecond);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        timer: this.#clock.setTimer(waitMs, () => {
          this.#waiters.delete(waiter);
          void this.take().then(resolve);
        }),
        resolve,
      };
      this.#waiters.add(waiter);
    });
  }

  /** Releases every waiter with false. */
  stop(): void {
    for (const waiter of this.#waiters) {
      waiter.timer.cancel();
      waiter.resolve(false);
    }
    this.#waiters.clear();
  }

  #refill(): void {
    const now = this.#clock.nowMs();
    const elapsedMs = Math.max(0, now - this.#lastMs);
    this.#lastMs = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + (elapsedMs * this.#perSecond) / 1000);
  }
}
