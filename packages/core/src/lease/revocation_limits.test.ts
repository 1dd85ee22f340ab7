/**
 * Goal: the revocation pace: the token bucket grants a burst, then one grant per 1/rate
 * seconds on the driver clock, and releases waiters on stop(); the retry delay doubles per
 * failure up to its max and is scaled by jitter into 50–100 % of nominal.
 * Method: a ManualClock and fixed jitter values.
 */
import { ManualClock } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import { flush } from './lease_test_support.ts';
import { retryDelayMs, TokenBucket } from './revocation_limits.ts';

describe('TokenBucket', () => {
  it('TokenBucket grants its burst, then one per interval', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(clock, { perSecond: 4, burst: 2 });
    const granted: boolean[] = [];
    for (let i = 0; i < 4; i += 1) {
      void bucket.take().then((ok) => granted.push(ok));
    }
    await flush();
    expect(granted).toEqual([true, true]);
    clock.advance(250);
    await flush();
    expect(granted).toHaveLength(3);
    clock.advance(250);
    await flush();
    expect(granted).toEqual([true, true, true, true]);
  });

  it('TokenBucket.stop releases waiters with false', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(clock, { perSecond: 1, burst: 1 });
    expect(await bucket.take()).toBe(true);
    const waiting = bucket.take();
    bucket.stop();
    expect(await waiting).toBe(false);
  });
});

describe('retryDelayMs', () => {
  it('retryDelayMs doubles per failure up to the max, scaled by jitter', () => {
    const retry = { delayBaseMs: 1000, delayMaxMs: 8000 };
    const low = [1, 2, 3, 4, 5].map((f) => retryDelayMs(f, { ...retry, random: () => 0 }));
    expect(low).toEqual([500, 1000, 2000, 4000, 4000]);
    const high = [1, 5].map((f) => retryDelayMs(f, { ...retry, random: () => 0.999_99 }));
    expect(high).toEqual([1000, 8000]);
    const drawn = retryDelayMs(3, retry);
    expect(drawn).toBeGreaterThanOrEqual(2000);
    expect(drawn).toBeLessThanOrEqual(4000);
  });
});
