/**
 * Goal: recovery shares authorize but never decrypt the root key: a verified quorum yields an
 * authorization with no key material, the recovery key opens no wrapped root key, and recovery
 * rekey replaces only the check.
 * Method: in-memory recovery keys beside a root key wrapped for break-glass and for Shamir;
 * the reconstructed recovery key is captured through a wrapper to try it on the root key.
 */
import { inspect } from 'node:util';

import { ManualClock } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import type { SecretKey } from '../barrier/secret_key.ts';
import { CoreErrorCode } from '../errors.ts';
import { AttemptLimiter } from './attempt_limiter.ts';
import { createBreakGlass } from './break_glass.ts';
import { unwrapWithKey } from './key_wrap.ts';
import { combineShares } from './shamir.ts';
import {
  createRecoveryKey,
  createRecoveryQuorum,
  createRecoveryRekeyQuorum,
} from './recovery_key.ts';
import { WrapPurpose } from './seal_binding.ts';
import { generateRootKey, initShamir } from './shamir_seal.ts';
import { encodeShare } from './share_encoding.ts';

/** The encoded share at `index`; fails the test when there is none. */
function encodedAt(shares: readonly SecretKey[], index: number): string {
  const share = shares[index];
  if (share === undefined) {
    throw new Error(`no share ${index}`);
  }
  return encodeShare(share);
}

const binding = { clusterId: 'recovery-test' };
const config = { shares: 3, threshold: 2 };

function limiter(): AttemptLimiter {
  return new AttemptLimiter(new ManualClock());
}

describe('createRecoveryQuorum', () => {
  it('createRecoveryQuorum completes with an authorization that holds no key material', async () => {
    const recovery = await createRecoveryKey({ config, binding });
    const quorum = createRecoveryQuorum({
      config,
      wrapped: recovery.check,
      binding,
      limiter: limiter(),
    });
    await quorum.submit(encodedAt(recovery.shares, 0));
    const step = await quorum.submit(encodedAt(recovery.shares, 2));
    if (!step.ok || !step.done) {
      throw new Error('expected an authorization');
    }
    expect(step.value).toEqual({ kind: 'recovery', clusterId: 'recovery-test' });
    expect(Object.keys(step.value).sort()).toEqual(['clusterId', 'kind']);
    expect(inspect(step.value)).not.toMatch(/Secret|Buffer/);
  });

  it('createRecoveryQuorum refuses foreign recovery shares and another cluster', async () => {
    const recovery = await createRecoveryKey({ config, binding });
    const foreign = await createRecoveryKey({ config, binding });
    const quorum = createRecoveryQuorum({
      config,
      wrapped: recovery.check,
      binding,
      limiter: limiter(),
    });
    await quorum.submit(encodedAt(foreign.shares, 0));
    expect(await quorum.submit(encodedAt(foreign.shares, 1))).toMatchObject({
      code: CoreErrorCode.unsealFailed,
    });
    const elsewhere = createRecoveryQuorum({
      config,
      wrapped: recovery.check,
      binding: { clusterId: 'other' },
      limiter: limiter(),
    });
    await elsewhere.submit(encodedAt(recovery.shares, 0));
    expect(await elsewhere.submit(encodedAt(recovery.shares, 1))).toMatchObject({
      code: CoreErrorCode.unsealFailed,
    });
  });

  it('a reconstructed recovery key opens no wrapped root key', async () => {
    const rootKey = generateRootKey();
    const recovery = await createRecoveryKey({ config, binding });
    const breakGlass = await createBreakGlass(rootKey, { config, binding });
    const shamir = await initShamir(rootKey, { config, binding });
    const recoveryKey = await combineShares(recovery.shares.slice(0, 2));
    if (recoveryKey === undefined) {
      throw new Error('combine failed');
    }
    for (const purpose of Object.values(WrapPurpose)) {
      for (const wrapped of [breakGlass.wrappedRootKey, shamir.wrappedRootKey]) {
        expect(unwrapWithKey(recoveryKey, wrapped, { purpose, binding })).toBeUndefined();
      }
    }
  });
});

describe('createRecoveryRekeyQuorum', () => {
  it('createRecoveryRekeyQuorum replaces the recovery shares and the check', async () => {
    const recovery = await createRecoveryKey({ config, binding });
    const rekey = createRecoveryRekeyQuorum({
      config,
      wrapped: recovery.check,
      binding,
      limiter: limiter(),
      next: { shares: 5, threshold: 3 },
    });
    await rekey.submit(encodedAt(recovery.shares, 0));
    const step = await rekey.submit(encodedAt(recovery.shares, 1));
    if (!step.ok || !step.done) {
      throw new Error('expected new recovery shares');
    }
    expect(step.value.shares).toHaveLength(5);
    const quorum = createRecoveryQuorum({
      config: step.value.config,
      wrapped: step.value.check,
      binding,
      limiter: limiter(),
    });
    const results = [];
    for (const share of step.value.shares.slice(0, 3)) {
      results.push(await quorum.submit(encodeShare(share)));
    }
    expect(results.at(-1)).toMatchObject({ ok: true, done: true });
  });
});
