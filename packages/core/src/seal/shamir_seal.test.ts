/**
 * Goal: the Shamir seal keeps the documented key hierarchy: init wraps the root key under a
 * split unseal key, unseal verifies before use, 1 of 1 works, and rekey changes shares and
 * threshold while the root key stays the same, so nothing under it is re-encrypted.
 * Method: in-memory init, unseal and rekey quorums with a ManualClock limiter.
 */
import { ManualClock } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import type { SecretKey } from '../barrier/secret_key.ts';
import { CoreErrorCode } from '../errors.ts';
import { AttemptLimiter } from './attempt_limiter.ts';
import { createRekeyQuorum } from './rekey.ts';
import { createUnsealQuorum, generateRootKey, initShamir, ShamirSeal } from './shamir_seal.ts';
import { encodeShare } from './share_encoding.ts';
import type { ShareQuorum } from './share_quorum.ts';

const binding = { clusterId: 'shamir-test' };

async function submitAll<T>(
  quorum: ShareQuorum<T>,
  shares: readonly string[],
): Promise<T | string> {
  let last: Awaited<ReturnType<ShareQuorum<T>['submit']>> | undefined;
  for (const share of shares) {
    last = await quorum.submit(share);
  }
  if (last === undefined || !last.ok) {
    return last?.code ?? 'no shares';
  }
  return last.done ? last.value : 'incomplete';
}

function limiter(): AttemptLimiter {
  return new AttemptLimiter(new ManualClock());
}

describe('initShamir and createUnsealQuorum', () => {
  it('createUnsealQuorum returns the root key for threshold shares of the init', async () => {
    const rootKey = generateRootKey();
    const init = await initShamir(rootKey, { config: { shares: 5, threshold: 3 }, binding });
    expect(init.shares).toHaveLength(5);
    const quorum = createUnsealQuorum({
      config: init.config,
      wrapped: init.wrappedRootKey,
      binding,
      limiter: limiter(),
    });
    const opened = await submitAll(quorum, init.shares.slice(2).map(encodeShare));
    expect((opened as SecretKey).equals(rootKey)).toBe(true);
  });

  it('initShamir with 1 of 1 hands out the unsplit unseal key', async () => {
    const rootKey = generateRootKey();
    const init = await initShamir(rootKey, { config: { shares: 1, threshold: 1 }, binding });
    const quorum = createUnsealQuorum({
      ...init,
      wrapped: init.wrappedRootKey,
      binding,
      limiter: limiter(),
    });
    const opened = await submitAll(quorum, init.shares.map(encodeShare));
    expect((opened as SecretKey).equals(rootKey)).toBe(true);
  });

  it('createUnsealQuorum refuses the right shares against another cluster binding', async () => {
    const init = await initShamir(generateRootKey(), {
      config: { shares: 3, threshold: 2 },
      binding,
    });
    const quorum = createUnsealQuorum({
      config: init.config,
      wrapped: init.wrappedRootKey,
      binding: { clusterId: 'another-cluster' },
      limiter: limiter(),
    });
    expect(await submitAll(quorum, init.shares.slice(0, 2).map(encodeShare))).toBe(
      CoreErrorCode.unsealFailed,
    );
  });
});

describe('ShamirSeal', () => {
  it('ShamirSeal wraps and unwraps, and is unavailable once closed', async () => {
    const rootKey = generateRootKey();
    const seal = new ShamirSeal(generateRootKey());
    expect(seal.status()).toEqual({ state: 'ready', type: 'shamir' });
    const wrapped = await seal.wrapRootKey(rootKey, binding);
    expect((await seal.unwrapRootKey(wrapped, binding)).equals(rootKey)).toBe(true);
    await expect(seal.unwrapRootKey(wrapped, { clusterId: 'x' })).rejects.toMatchObject({
      code: CoreErrorCode.rootKeyUnwrapFailed,
    });
    await seal.close();
    expect(seal.status()).toMatchObject({ state: 'unavailable', reason: 'awaiting_shares' });
    await expect(seal.wrapRootKey(rootKey, binding)).rejects.toMatchObject({
      code: CoreErrorCode.sealUnavailable,
    });
  });
});

describe('createRekeyQuorum', () => {
  it('createRekeyQuorum makes new shares for the same root key under a new threshold', async () => {
    const rootKey = generateRootKey();
    const init = await initShamir(rootKey, { config: { shares: 3, threshold: 2 }, binding });
    const rekey = createRekeyQuorum({
      config: init.config,
      wrapped: init.wrappedRootKey,
      binding,
      limiter: limiter(),
      next: { shares: 7, threshold: 4 },
    });
    const result = await submitAll(rekey, init.shares.slice(1).map(encodeShare));
    if (typeof result === 'string') {
      throw new Error(result);
    }
    expect(result.shares).toHaveLength(7);
    expect(result.config).toEqual({ shares: 7, threshold: 4 });
    const unseal = createUnsealQuorum({
      config: result.config,
      wrapped: result.wrappedRootKey,
      binding,
      limiter: limiter(),
    });
    const opened = await submitAll(unseal, result.shares.slice(3).map(encodeShare));
    expect((opened as SecretKey).equals(rootKey)).toBe(true);
    const oldShares = createUnsealQuorum({
      config: init.config,
      wrapped: result.wrappedRootKey,
      binding,
      limiter: limiter(),
    });
    expect(await submitAll(oldShares, init.shares.slice(0, 2).map(encodeShare))).toBe(
      CoreErrorCode.unsealFailed,
    );
  });

  it('createRekeyQuorum refuses a bad next config at once and wrong shares at the threshold', async () => {
    const init = await initShamir(generateRootKey(), {
      config: { shares: 3, threshold: 2 },
      binding,
    });
    const options = {
      config: init.config,
      wrapped: init.wrappedRootKey,
      binding,
      limiter: limiter(),
    };
    expect(() => createRekeyQuorum({ ...options, next: { shares: 2, threshold: 3 } })).toThrow(
      expect.objectContaining({ code: CoreErrorCode.sealConfigInvalid }),
    );
    const foreign = await initShamir(generateRootKey(), {
      config: { shares: 3, threshold: 2 },
      binding,
    });
    const rekey = createRekeyQuorum({ ...options, next: { shares: 3, threshold: 2 } });
    expect(await submitAll(rekey, foreign.shares.slice(0, 2).map(encodeShare))).toBe(
      CoreErrorCode.unsealFailed,
    );
  });
});
