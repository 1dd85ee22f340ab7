/**
 * Rate limiting for share quorums: after a few failed attempts, each further attempt waits twice
 * as long as the one before, up to a cap. An attempt is one full set of shares that failed
 * verification; a success forgets the failures. The clock is injected (tests use ManualClock).
 *
 * Why not per submitter: shares arrive unauthenticated (a sealed node has no tokens), so the
 * limit is per node and per quorum kind. It slows an online guesser of a whole share set, which
 * at 2^256 keys is hopeless anyway; it mostly bounds log and CPU noise from a stuck script.
 */
import assert from 'node:assert/strict';

import type { SealClock } from './seal_provider.ts';

/** Options for {@link AttemptLimiter}; every field has a default. */
export interface AttemptLimiterOptions {
  /** Failed attempts allowed back to back before any wait. */
  readonly failuresFree?: number;
  /** The wait after the first failure past the free ones. */
  readonly delayBaseMs?: number;
  /** The longest wait. */
  readonly delayMaxMs?: number;
}

/** The outcome of {@link AttemptLimiter.check}. */
export type AttemptCheck =
  { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

/** Counts failed attempts and says when the next one may start. */
export class AttemptLimiter {
  readonly #clock: Pick<SealClock, 'nowMs'>;
  readonly #failuresFree: number;
  readonly #delayBaseMs: number;
  readonly #delayMaxMs: number;
  #failures = 0;
  #lastFailureMs = 0;

  constructor(clock: Pick<SealClock, 'nowMs'>, options: AttemptLimiterOptions = {}) {
    this.#clock = clock;
    this.#failuresFree = options.failuresFree ?? 3;
    this.#delayBaseMs = options.delayBaseMs ?? 1_000;
    this.#delayMaxMs = options.delayMaxMs ?? 300_000;
    assert(Number.isSafeInteger(this.#failuresFree) && this.#failuresFree >= 0);
    assert(this.#delayBaseMs > 0 && this.#delayMaxMs >= this.#delayBaseMs);
  }

  /** Failed attempts since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /** The wait that applies after the current number of failures. */
  #delayMs(): number {
    const excess = this.#failures - this.#failuresFree;
    if (excess <= 0) {
      return 0;
    }
    return Math.min(this.#delayMaxMs, this.#delayBaseMs * 2 ** Math.min(excess - 1, 30));
  }

  /** Whether an attempt may go on now, and if not, how long to wait. */
  check(): AttemptCheck {
    const readyAtMs = this.#lastFailureMs + this.#delayMs();
    const nowMs = this.#clock.nowMs();
    if (this.#delayMs() === 0 || nowMs >= readyAtMs) {
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(readyAtMs - nowMs) };
  }

  /** Records a failed attempt now. */
  recordFailure(): void {
    this.#failures += 1;
    this.#lastFailureMs = this.#clock.nowMs();
  }

  /** Forgets past failures after a verified attempt. */
  recordSuccess(): void {
    this.#failures = 0;
  }
}
