/**
 * Goal: failed attempts beyond the free ones impose doubling waits up to a cap, and a success
 * forgets them.
 * Method: a ManualClock; no real time.
 */
import { ManualClock } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import { AttemptLimiter } from './attempt_limiter.ts';

describe('AttemptLimiter', () => {
  it('AttemptLimiter.check waits twice as long after each failure past the free ones', () => {
    const clock = new ManualClock();
    const limiter = new AttemptLimiter(clock, {
      failuresFree: 2,
      delayBaseMs: 100,
      delayMaxMs: 350,
    });
    limiter.recordFailure();
    limiter.recordFailure();
    expect(limiter.check()).toEqual({ ok: true });
    const waits: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      limiter.recordFailure();
      const check = limiter.check();
      waits.push(check.ok ? 0 : check.retryAfterMs);
      clock.advance(waits.at(-1) ?? 0);
      expect(limiter.check()).toEqual({ ok: true });
    }
    expect(waits).toEqual([100, 200, 350, 350]);
  });

  it('AttemptLimiter.recordSuccess forgets the failures', () => {
    const clock = new ManualClock();
    const limiter = new AttemptLimiter(clock, { failuresFree: 0, delayBaseMs: 1000 });
    limiter.recordFailure();
    clock.advance(400);
    expect(limiter.check()).toEqual({ ok: false, retryAfterMs: 600 });
    limiter.recordSuccess();
    expect(limiter.failures).toBe(0);
    expect(limiter.check()).toEqual({ ok: true });
  });
});
