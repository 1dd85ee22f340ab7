/**
 * Goal: retryWithBackoff waits with growing, capped, jittered delays on the injected clock,
 * stops when done, when aborted and after attemptsMax.
 * Method: a ManualClock whose setTimer is watched, so the test advances time exactly when the
 * loop waits; no real time passes.
 */
import { ManualClock } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { backoffDelayMs, retryWithBackoff } from './backoff.ts';

/** A ManualClock that records the delays it was asked for and fires them at once. */
function autoClock(): { clock: ManualClock & { delays: number[] } } {
  const clock = Object.assign(new ManualClock(), { delays: [] as number[] });
  const setTimer = clock.setTimer.bind(clock);
  clock.setTimer = (delayMs, callback) => {
    clock.delays.push(delayMs);
    const timer = setTimer(delayMs, callback);
    queueMicrotask(() => {
      clock.advance(delayMs);
    });
    return timer;
  };
  return { clock };
}

describe('backoffDelayMs', () => {
  it('backoffDelayMs doubles from the base, caps at the max and scales by jitter', () => {
    const options = {
      clock: new ManualClock(),
      delayBaseMs: 100,
      delayMaxMs: 1000,
      jitter: () => 0.999,
    };
    expect([0, 1, 2, 3, 4, 50].map((n) => backoffDelayMs(n, options))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(backoffDelayMs(2, { ...options, jitter: () => 0 })).toBe(200);
  });
});

describe('retryWithBackoff', () => {
  it('retryWithBackoff retries until an attempt is done and returns its value', async () => {
    const { clock } = autoClock();
    const value = await retryWithBackoff(
      (attemptIndex) =>
        Promise.resolve(attemptIndex < 3 ? { done: false } : { done: true, value: attemptIndex }),
      { clock, delayBaseMs: 10, jitter: () => 0.999 },
    );
    expect(value).toBe(3);
    expect(clock.delays).toEqual([10, 20, 40]);
  });

  it('retryWithBackoff gives up after attemptsMax with SEAL_UNAVAILABLE', async () => {
    const { clock } = autoClock();
    await expect(
      retryWithBackoff(() => Promise.resolve({ done: false }), { clock, attemptsMax: 3 }),
    ).rejects.toMatchObject({ code: CoreErrorCode.sealUnavailable });
    expect(clock.delays).toHaveLength(2);
  });

  it('retryWithBackoff stops waiting when the signal aborts', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    let attempts = 0;
    const running = retryWithBackoff(
      () => {
        attempts += 1;
        return Promise.resolve({ done: false });
      },
      { clock, signal: controller.signal },
    );
    await Promise.resolve();
    controller.abort();
    await expect(running).rejects.toMatchObject({ code: CoreErrorCode.sealUnavailable });
    expect(attempts).toBe(1);
  });
});
