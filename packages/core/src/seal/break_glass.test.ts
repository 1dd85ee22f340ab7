/**
 * Goal: break-glass shares recover the root key, only for the cluster and purpose they were
 * made for, and asking for break-glass on a cluster without it fails with its own code.
 * Method: in-memory break-glass over a random root key.
 */
import { ManualClock } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import type { SecretKey } from '../barrier/secret_key.ts';
import { CoreErrorCode } from '../errors.ts';
import { AttemptLimiter } from './attempt_limiter.ts';
import { createBreakGlass, createBreakGlassQuorum } from './break_glass.ts';
import { createUnsealQuorum, generateRootKey } from './shamir_seal.ts';
import { encodeShare } from './share_encoding.ts';

/** The encoded share at `index`; fails the test when there is none. */
function encodedAt(shares: readonly SecretKey[], index: number): string {
  const share = shares[index];
  if (share === undefined) {
    throw new Error(`no share ${index}`);
  }
  return encodeShare(share);
}

const binding = { clusterId: 'break-glass-test' };
const config = { shares: 4, threshold: 2 };

function limiter(): AttemptLimiter {
  return new AttemptLimiter(new ManualClock());
}

describe('createBreakGlassQuorum', () => {
  it('createBreakGlassQuorum recovers the root key from threshold break-glass shares', async () => {
    const rootKey = generateRootKey();
    const breakGlass = await createBreakGlass(rootKey, { config, binding });
    const quorum = createBreakGlassQuorum({
      config,
      wrapped: breakGlass.wrappedRootKey,
      binding,
      limiter: limiter(),
    });
    await quorum.submit(encodedAt(breakGlass.shares, 3));
    const step = await quorum.submit(encodedAt(breakGlass.shares, 1));
    expect(step.ok && step.done && step.value.equals(rootKey)).toBe(true);
  });

  it('break-glass shares do not open the blob as an unseal (Shamir) root key', async () => {
    const breakGlass = await createBreakGlass(generateRootKey(), { config, binding });
    const quorum = createUnsealQuorum({
      config,
      wrapped: breakGlass.wrappedRootKey,
      binding,
      limiter: limiter(),
    });
    await quorum.submit(encodedAt(breakGlass.shares, 0));
    expect(await quorum.submit(encodedAt(breakGlass.shares, 1))).toMatchObject({
      code: CoreErrorCode.unsealFailed,
    });
  });

  it('createBreakGlassQuorum throws BREAK_GLASS_NOT_CONFIGURED without a stored blob', () => {
    expect(() =>
      createBreakGlassQuorum({ config, wrapped: undefined, binding, limiter: limiter() }),
    ).toThrow(expect.objectContaining({ code: CoreErrorCode.breakGlassNotConfigured }));
  });
});
