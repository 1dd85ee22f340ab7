/**
 * Retry with exponential backoff and jitter, on an injected clock (tests use ManualClock and
 * never sleep). The HSM seal uses it to keep trying to reach its token while the node stays
 * sealed: a missing library, an absent token or a device error are all worth retrying, and an
 * operator who fixes the cause sees the node unseal by itself.
 */
import { randomInt } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../errors.ts';
import type { SealClock } from './seal_provider.ts';

/** Options for {@link retryWithBackoff}. */
export interface BackoffOptions {
  readonly clock: SealClock;
  /** The wait after the first failed attempt. Default 500 ms. */
  readonly delayBaseMs?: number;
  /** The longest wait. Default 30 s. */
  readonly delayMaxMs?: number;
  /** Growth per attempt. Default 2. */
  readonly factor?: number;
  /**
   * A number in [0, 1) per wait; the wait is scaled into [50 %, 100 %] of its nominal value so
   * that many nodes restarted together do not hit the HSM in lockstep. Default: crypto random.
   */
  readonly jitter?: () => number;
  /** Stops the loop; the promise then rejects with COFFER_CORE_SEAL_UNAVAILABLE. */
  readonly signal?: AbortSignal;
  /**
   * Attempts before giving up with COFFER_CORE_SEAL_UNAVAILABLE. Default: no limit, on
   * purpose: a sealed node keeps trying until its owner aborts `signal`.
   */
  readonly attemptsMax?: number;
}

/** What one attempt says: done with a value, or try again later. */
export type AttemptOutcome<T> =
  { readonly done: true; readonly value: T } | { readonly done: false };

const jitterResolution = 1 << 16;

function cryptoJitter(): number {
  return randomInt(jitterResolution) / jitterResolution;
}

/** The wait before attempt `attemptIndex + 1`, after attempt `attemptIndex` (0-based) failed. */
export function backoffDelayMs(attemptIndex: number, options: BackoffOptions): number {
  const base = options.delayBaseMs ?? 500;
  const max = options.delayMaxMs ?? 30_000;
  const factor = options.factor ?? 2;
  const nominal = Math.min(max, base * factor ** Math.min(attemptIndex, 64));
  const jitter = (options.jitter ?? cryptoJitter)();
  return Math.round(nominal * (0.5 + jitter / 2));
}

function cancelled(signal: AbortSignal): CoreError {
  return new CoreError(
    CoreErrorCode.sealUnavailable,
    'Stopped retrying the seal: the caller cancelled (reason "closed")',
    { cause: signal.reason },
  );
}

/** Resolves after `delayMs` on `clock`, or rejects when `signal` aborts first. */
function sleep(delayMs: number, options: BackoffOptions): Promise<void> {
  const { clock, signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(cancelled(signal));
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      reject(cancelled(signal as AbortSignal));
    };
    const timer = clock.setTimer(delayMs, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Calls `attempt` until it reports done, waiting with backoff in between. An attempt that
 * throws ends the loop with that error: attempts decide what is retryable.
 */
export async function retryWithBackoff<T>(
  attempt: (attemptIndex: number) => Promise<AttemptOutcome<T>>,
  options: BackoffOptions,
): Promise<T> {
  const attemptsMax = options.attemptsMax ?? Number.POSITIVE_INFINITY;
  for (let attemptIndex = 0; attemptIndex < attemptsMax; attemptIndex += 1) {
    if (options.signal?.aborted === true) {
      throw cancelled(options.signal);
    }
    const outcome = await attempt(attemptIndex);
    if (outcome.done) {
      return outcome.value;
    }
    if (attemptIndex + 1 < attemptsMax) {
      await sleep(backoffDelayMs(attemptIndex, options), options);
    }
  }
  throw new CoreError(
    CoreErrorCode.sealUnavailable,
    `Gave up on the seal after ${attemptsMax} attempts; check its status for the reason`,
  );
}
