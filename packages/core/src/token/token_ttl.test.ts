/**
 * Goal: the TTL matrix of tokens: default and asked TTLs, the mount/system max, explicit max
 * TTL, periodic tokens, never-expiring root tokens, and renewals that never pass the max TTL
 * (cut with a warning) while periodic ones renew to one period forever.
 * Method: the pure planners with fixed instants.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { rootTokenEntry, type TokenEntry } from './token_entry.ts';
import { planRenewal, planTtl, remainingSeconds } from './token_ttl.ts';

const limits = { defaultTtlSeconds: 3600, maxTtlSeconds: 86400 };
const nowMs = 1_000_000;
const ask = { ttlSeconds: 0, explicitMaxTtlSeconds: 0, periodSeconds: 0, root: false };

function entryFrom(plan: ReturnType<typeof planTtl>, extra: Partial<TokenEntry> = {}): TokenEntry {
  return {
    ...rootTokenEntry({ key: 'k', accessor: 'a', nowMs }),
    policies: ['default'],
    expireMs: plan.expireMs,
    ttlSeconds: plan.ttlSeconds,
    explicitMaxTtlSeconds: plan.explicitMaxTtlSeconds,
    maxExpireMs: plan.maxExpireMs,
    renewable: true,
    ...extra,
  };
}

describe('planTtl', () => {
  it('planTtl gives the default TTL and the mount max as the max', () => {
    const plan = planTtl(ask, { limits, nowMs });
    expect(plan).toMatchObject({ ttlSeconds: 3600, expireMs: nowMs + 3_600_000 });
    expect(plan.maxExpireMs).toBe(nowMs + 86_400_000);
    expect(plan.warnings).toEqual([]);
  });

  it('planTtl cuts an asked TTL at the mount max with a warning', () => {
    const plan = planTtl({ ...ask, ttlSeconds: 100_000 }, { limits, nowMs });
    expect(plan.ttlSeconds).toBe(86400);
    expect(plan.warnings[0]).toContain('capped');
  });

  it('planTtl cuts the TTL at the explicit max TTL', () => {
    const plan = planTtl(
      { ...ask, ttlSeconds: 600, explicitMaxTtlSeconds: 300 },
      { limits, nowMs },
    );
    expect(plan).toMatchObject({ ttlSeconds: 300, explicitMaxTtlSeconds: 300 });
    expect(plan.maxExpireMs).toBe(nowMs + 300_000);
  });

  it('planTtl caps an explicit max TTL above the mount max with a warning', () => {
    const plan = planTtl({ ...ask, explicitMaxTtlSeconds: 200_000 }, { limits, nowMs });
    expect(plan.explicitMaxTtlSeconds).toBe(86400);
    expect(plan.warnings[0]).toContain('Explicit max TTL');
  });

  it('planTtl gives a periodic token one period, beyond the mount max, and no max', () => {
    const plan = planTtl({ ...ask, periodSeconds: 200_000 }, { limits, nowMs });
    expect(plan).toMatchObject({ ttlSeconds: 200_000, maxExpireMs: 0, warnings: [] });
  });

  it('planTtl cuts a periodic token at its explicit max TTL', () => {
    const plan = planTtl(
      { ...ask, periodSeconds: 600, explicitMaxTtlSeconds: 300 },
      { limits, nowMs },
    );
    expect(plan).toMatchObject({ ttlSeconds: 300, maxExpireMs: nowMs + 300_000 });
  });

  it('planTtl lets a root token without TTL never expire', () => {
    expect(planTtl({ ...ask, root: true }, { limits, nowMs })).toMatchObject({
      ttlSeconds: 0,
      expireMs: 0,
      maxExpireMs: 0,
    });
    expect(planTtl({ ...ask, root: true, ttlSeconds: 60 }, { limits, nowMs }).expireMs).toBe(
      nowMs + 60_000,
    );
  });

  it('planTtl refuses a token with no TTL at all', () => {
    expect(() =>
      planTtl(ask, { limits: { defaultTtlSeconds: 0, maxTtlSeconds: 0 }, nowMs }),
    ).toThrow(expect.objectContaining({ code: CoreErrorCode.invalidRequest }));
  });
});

describe('planRenewal', () => {
  const created = planTtl(
    { ...ask, ttlSeconds: 600, explicitMaxTtlSeconds: 1000 },
    { limits, nowMs },
  );

  it('planRenewal sets TTL = increment from now', () => {
    const plan = planRenewal(entryFrom(created), { incrementSeconds: 300, nowMs: nowMs + 100_000 });
    expect(plan).toMatchObject({ ttlSeconds: 300, expireMs: nowMs + 400_000, warnings: [] });
  });

  it('planRenewal defaults the increment to the creation TTL', () => {
    const plan = planRenewal(entryFrom(created), { incrementSeconds: 0, nowMs });
    expect(plan.ttlSeconds).toBe(600);
  });

  it('planRenewal never passes the max TTL and warns that it cut', () => {
    const plan = planRenewal(entryFrom(created), { incrementSeconds: 900, nowMs: nowMs + 500_000 });
    expect(plan).toMatchObject({ ttlSeconds: 500, expireMs: nowMs + 1_000_000 });
    expect(plan.warnings[0]).toContain('max TTL of 500 seconds');
  });

  it('planRenewal renews a periodic token to one period, increment ignored, forever', () => {
    const periodic = planTtl({ ...ask, periodSeconds: 600 }, { limits, nowMs });
    const entry = entryFrom(periodic, { periodSeconds: 600 });
    const later = nowMs + 400 * 86_400_000;
    expect(planRenewal(entry, { incrementSeconds: 5, nowMs: later })).toMatchObject({
      ttlSeconds: 600,
      expireMs: later + 600_000,
      warnings: [],
    });
  });

  it('planRenewal cuts a periodic token with an explicit max TTL', () => {
    const periodic = planTtl(
      { ...ask, periodSeconds: 600, explicitMaxTtlSeconds: 900 },
      { limits, nowMs },
    );
    const entry = entryFrom(periodic, { periodSeconds: 600 });
    const plan = planRenewal(entry, { incrementSeconds: 0, nowMs: nowMs + 500_000 });
    expect(plan).toMatchObject({ ttlSeconds: 400, expireMs: nowMs + 900_000 });
    expect(plan.warnings).toHaveLength(1);
  });

  it('planRenewal refuses a token that is not renewable or never expires', () => {
    expect(() =>
      planRenewal(entryFrom(created, { renewable: false }), { incrementSeconds: 0, nowMs }),
    ).toThrow(expect.objectContaining({ code: CoreErrorCode.leaseInvalid }));
    const root = rootTokenEntry({ key: 'k', accessor: 'a', nowMs });
    expect(() => planRenewal({ ...root, renewable: true }, { incrementSeconds: 0, nowMs })).toThrow(
      expect.objectContaining({ code: CoreErrorCode.leaseInvalid }),
    );
  });

  it('remainingSeconds shows 0 for a token that never expires', () => {
    expect(remainingSeconds(rootTokenEntry({ key: 'k', accessor: 'a', nowMs }), nowMs)).toBe(0);
    expect(remainingSeconds(entryFrom(created), nowMs + 1500)).toBe(598);
  });
});
