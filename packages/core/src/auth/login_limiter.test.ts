/**
 * Goal: the login limiter lets the free failures through, then doubles the wait per failure up
 * to the cap, forgets a key after a quiet period or a success, takes the longest wait over the
 * keys checked, and never tracks more than keysMax keys.
 * Method: a ManualClock; keys are plain strings.
 */
import { ManualClock } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { LoginLimiter, LoginRateLimitedError } from './login_limiter.ts';

function failTimes(limiter: LoginLimiter, key: string, times: number): void {
  for (let i = 0; i < times; i += 1) {
    limiter.fail([key]);
  }
}

describe('LoginLimiter', () => {
  it('LoginLimiter.check allows the free failures, then waits 1 s, doubling up to 5 minutes', () => {
    const clock = new ManualClock();
    const limiter = new LoginLimiter(clock);
    failTimes(limiter, 'role:a', 5);
    expect(limiter.check(['role:a'])).toEqual({ ok: true });
    limiter.fail(['role:a']);
    expect(limiter.check(['role:a'])).toEqual({ ok: false, retryAfterMs: 1000 });
    clock.advance(1000);
    expect(limiter.check(['role:a'])).toEqual({ ok: true });
    limiter.fail(['role:a']);
    expect(limiter.check(['role:a'])).toEqual({ ok: false, retryAfterMs: 2000 });
    failTimes(limiter, 'role:a', 20);
    expect(limiter.check(['role:a'])).toEqual({ ok: false, retryAfterMs: 300_000 });
  });

  it('LoginLimiter forgets a key after a quiet period and after a success', () => {
    const clock = new ManualClock();
    const limiter = new LoginLimiter(clock, { failuresFree: 1, resetAfterMs: 60_000 });
    failTimes(limiter, 'k', 3);
    expect(limiter.check(['k']).ok).toBe(false);
    clock.advance(60_000);
    expect(limiter.check(['k'])).toEqual({ ok: true });
    limiter.fail(['k']);
    expect(limiter.check(['k'])).toEqual({ ok: true });
    failTimes(limiter, 'k', 3);
    limiter.succeed(['k']);
    expect(limiter.check(['k'])).toEqual({ ok: true });
    expect(limiter.trackedKeyCount).toBe(0);
  });

  it('LoginLimiter.check answers the longest wait of the keys given', () => {
    const clock = new ManualClock();
    const limiter = new LoginLimiter(clock, { failuresFree: 0 });
    failTimes(limiter, 'addr:10.0.0.1', 3);
    limiter.fail(['role:x']);
    expect(limiter.check(['role:x', 'addr:10.0.0.1'])).toEqual({ ok: false, retryAfterMs: 4000 });
    expect(limiter.check(['role:y'])).toEqual({ ok: true });
  });

  it('LoginLimiter evicts the key with the oldest failure beyond keysMax', () => {
    const clock = new ManualClock();
    const limiter = new LoginLimiter(clock, { failuresFree: 0, keysMax: 3 });
    limiter.fail(['a']);
    clock.advance(1);
    limiter.fail(['b']);
    limiter.fail(['c']);
    limiter.fail(['a']);
    limiter.fail(['d']);
    expect(limiter.trackedKeyCount).toBe(3);
    expect(limiter.check(['b'])).toEqual({ ok: true });
    expect(limiter.check(['a']).ok).toBe(false);
  });

  it('LoginRateLimitedError carries the wait and the RATE_LIMITED code', () => {
    const error = new LoginRateLimitedError(1500);
    expect(error.code).toBe(CoreErrorCode.rateLimited);
    expect(error.retryAfterMs).toBe(1500);
    expect(/retry after (\d+) ms/i.exec(error.message)?.[1]).toBe('1500');
  });
});
