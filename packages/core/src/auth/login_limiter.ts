/**
 * Rate limiting of failed logins, per key (an auth method checks one key per credential, such as
 * `role:<hmac of role_id>`, and one per caller address). Each key counts its failures: the first
 * five are free, then each further attempt waits twice as long as the one before, from 1 s up to
 * 5 minutes; a key quiet for 15 minutes (no failure) is forgotten, as is a key on success.
 * These follow Vault's user lockout defaults (threshold 5, counter reset 15m) with a doubling
 * wait instead of a hard 15-minute lockout, so a mistyped credential costs seconds, not minutes.
 *
 * Callers check BEFORE verifying credentials, so a limited attempt answers the same whether
 * its credentials were right or wrong. State is in memory on the active node only (a new active
 * node starts with no failures); memory is bounded: at most `keysMax` keys, the one with the
 * oldest failure is dropped first.
 *
 * Each key reuses the seal's AttemptLimiter (same doubling rule) plus a last-failure instant for
 * the quiet-period reset and the eviction order.
 */
import assert from 'node:assert/strict';

import type { DriverClock } from '@coffer/raft/node';

import { CoreError, CoreErrorCode } from '../errors.ts';
import { AttemptLimiter } from '../seal/attempt_limiter.ts';

/** Options for {@link LoginLimiter}; every field has a default (see the file comment). */
export interface LoginLimiterOptions {
  /** Failures per key allowed before any wait (default 5). */
  readonly failuresFree?: number;
  /** The wait after the first failure past the free ones (default 1 000 ms). */
  readonly delayBaseMs?: number;
  /** The longest wait (default 300 000 ms: 5 minutes). */
  readonly delayMaxMs?: number;
  /** A key without a failure for this long is forgotten (default 900 000 ms: 15 minutes). */
  readonly resetAfterMs?: number;
  /** The most keys tracked at once (default 10 000). */
  readonly keysMax?: number;
}

/** The outcome of {@link LoginLimiter.check}. */
export type LoginCheck =
  { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

/** The tracked state of one key. */
interface KeyState {
  readonly limiter: AttemptLimiter;
  lastFailureMs: number;
}

/** A failed-login counter per key, with doubling waits and a quiet-period reset. */
export class LoginLimiter {
  readonly #clock: Pick<DriverClock, 'nowMs'>;
  readonly #failuresFree: number;
  readonly #delayBaseMs: number;
  readonly #delayMaxMs: number;
  readonly #resetAfterMs: number;
  readonly #keysMax: number;
  /** Invariant: in order of last failure, oldest first (a failure moves its key to the end). */
  readonly #keys = new Map<string, KeyState>();

  constructor(clock: Pick<DriverClock, 'nowMs'>, options: LoginLimiterOptions = {}) {
    this.#clock = clock;
    this.#failuresFree = options.failuresFree ?? 5;
    this.#delayBaseMs = options.delayBaseMs ?? 1_000;
    this.#delayMaxMs = options.delayMaxMs ?? 300_000;
    this.#resetAfterMs = options.resetAfterMs ?? 900_000;
    this.#keysMax = options.keysMax ?? 10_000;
    assert(this.#resetAfterMs > 0 && Number.isSafeInteger(this.#keysMax) && this.#keysMax > 0);
  }

  /** Keys tracked now (for tests and metrics). */
  get trackedKeyCount(): number {
    return this.#keys.size;
  }

  /** The live state of key, forgetting it if it has been quiet long enough. */
  #live(key: string): KeyState | undefined {
    const state = this.#keys.get(key);
    if (state !== undefined && this.#clock.nowMs() - state.lastFailureMs >= this.#resetAfterMs) {
      this.#keys.delete(key);
      return undefined;
    }
    return state;
  }

  /** Whether an attempt under every one of `keys` may go on now; else the longest wait. */
  check(keys: readonly string[]): LoginCheck {
    let retryAfterMs = 0;
    for (const key of keys) {
      const outcome = this.#live(key)?.limiter.check();
      if (outcome !== undefined && !outcome.ok) {
        retryAfterMs = Math.max(retryAfterMs, outcome.retryAfterMs);
      }
    }
    return retryAfterMs === 0 ? { ok: true } : { ok: false, retryAfterMs };
  }

  /** Records a failed attempt under each of `keys`. */
  fail(keys: readonly string[]): void {
    const nowMs = this.#clock.nowMs();
    for (const key of keys) {
      const state = this.#live(key) ?? {
        limiter: new AttemptLimiter(this.#clock, {
          failuresFree: this.#failuresFree,
          delayBaseMs: this.#delayBaseMs,
          delayMaxMs: this.#delayMaxMs,
        }),
        lastFailureMs: nowMs,
      };
      state.limiter.recordFailure();
      state.lastFailureMs = nowMs;
      this.#keys.delete(key);
      this.#keys.set(key, state);
    }
    for (const oldest of this.#keys.keys()) {
      if (this.#keys.size <= this.#keysMax) {
        break;
      }
      this.#keys.delete(oldest);
    }
  }

  /** Forgets the failures of `keys` after a successful attempt. */
  succeed(keys: readonly string[]): void {
    for (const key of keys) {
      this.#keys.delete(key);
    }
  }
}

/**
 * The refusal of a rate-limited login. The wait is in the message as "Retry after <n> ms" (the
 * router reads it into CoreFailure.retryAfterMs) and in `retryAfterMs`.
 */
export class LoginRateLimitedError extends CoreError {
  /** When to try again, in ms (CoreFailure.retryAfterMs). */
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number) {
    super(
      CoreErrorCode.rateLimited,
      `Retry after ${retryAfterMs} ms: too many failed logins for these credentials or this address`,
    );
    this.name = 'LoginRateLimitedError';
    this.retryAfterMs = retryAfterMs;
  }
}
