/**
 * Goal: the quorum state machine counts shares one at a time with a nonce and progress, refuses
 * malformed, repeated, stale-nonce and rate-limited shares without counting them, verifies at
 * the threshold, and answers every failed verification the same way, then resets.
 * Method: unseal quorums over a Shamir-wrapped root key; a ManualClock for the limiter; a
 * counter for nonces.
 */
import { ManualClock } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import { SecretKey } from '../barrier/secret_key.ts';
import { CoreErrorCode } from '../errors.ts';
import { AttemptLimiter } from './attempt_limiter.ts';
import { createUnsealQuorum, generateRootKey, initShamir } from './shamir_seal.ts';
import type { ShareConfig } from './shamir.ts';
import { encodeShare } from './share_encoding.ts';
import { ShareQuorum } from './share_quorum.ts';

const binding = { clusterId: 'quorum-test' };

async function setUp(config: ShareConfig = { shares: 5, threshold: 3 }) {
  const rootKey = generateRootKey();
  const init = await initShamir(rootKey, { config, binding });
  const clock = new ManualClock();
  const limiter = new AttemptLimiter(clock, { failuresFree: 1, delayBaseMs: 1000 });
  let nonces = 0;
  const quorum = createUnsealQuorum({
    config,
    wrapped: init.wrappedRootKey,
    binding,
    limiter,
    newNonce: () => `nonce-${(nonces += 1)}`,
  });
  const shares = init.shares.map(encodeShare);
  return { rootKey, shares, quorum, clock, limiter };
}

describe('ShareQuorum', () => {
  it('ShareQuorum counts shares, keeps one nonce per attempt and opens at the threshold', async () => {
    const { rootKey, shares, quorum } = await setUp();
    expect(quorum.progress()).toMatchObject({
      progress: 0,
      threshold: 3,
      shares: 5,
      nonce: undefined,
    });
    const first = await quorum.submit(shares[0] ?? '');
    expect(first).toMatchObject({
      ok: true,
      done: false,
      progress: { progress: 1, nonce: 'nonce-1' },
    });
    await quorum.submit(shares[3] ?? '', { nonce: 'nonce-1' });
    const last = await quorum.submit(shares[1] ?? '', { nonce: 'nonce-1' });
    if (!last.ok || !last.done) {
      throw new Error('expected the quorum to open');
    }
    expect(last.value.equals(rootKey)).toBe(true);
    expect(quorum.progress()).toMatchObject({ progress: 0, nonce: undefined });
  });

  it('ShareQuorum refuses a repeated share without counting it', async () => {
    const { shares, quorum } = await setUp();
    await quorum.submit(shares[0] ?? '');
    const again = await quorum.submit(`  ${shares[0] ?? ''}\n`);
    expect(again).toMatchObject({
      ok: false,
      code: CoreErrorCode.shareDuplicate,
      progress: { progress: 1 },
    });
  });

  it('ShareQuorum refuses malformed shares and stale nonces without counting them', async () => {
    const { shares, quorum } = await setUp();
    expect(await quorum.submit('coffer1:nope')).toMatchObject({
      code: CoreErrorCode.shareMalformed,
    });
    expect(await quorum.submit(SecretKey.generate(32))).toMatchObject({
      code: CoreErrorCode.shareMalformed,
    });
    expect(await quorum.submit(shares[0] ?? '', { nonce: 'nonce-9' })).toMatchObject({
      code: CoreErrorCode.unsealNonceMismatch,
    });
    await quorum.submit(shares[0] ?? '');
    quorum.reset();
    const stale = await quorum.submit(shares[1] ?? '', { nonce: 'nonce-1' });
    expect(stale).toMatchObject({
      code: CoreErrorCode.unsealNonceMismatch,
      progress: { progress: 0 },
    });
  });

  it('ShareQuorum answers a wrong share set with one code, resets and starts a new nonce', async () => {
    const { shares, quorum } = await setUp();
    const foreign = (await setUp()).shares;
    await quorum.submit(shares[0] ?? '');
    await quorum.submit(shares[1] ?? '');
    const failed = await quorum.submit(foreign[2] ?? '');
    expect(failed).toMatchObject({
      ok: false,
      code: CoreErrorCode.unsealFailed,
      progress: { progress: 0 },
    });
    const next = await quorum.submit(shares[0] ?? '');
    expect(next).toMatchObject({ ok: true, progress: { progress: 1, nonce: 'nonce-2' } });
  });

  it('ShareQuorum rate-limits after failures and takes shares again once the wait passed', async () => {
    const { shares, quorum, clock } = await setUp({ shares: 2, threshold: 2 });
    const foreign = (await setUp({ shares: 2, threshold: 2 })).shares;
    for (let i = 0; i < 2; i += 1) {
      await quorum.submit(shares[0] ?? '');
      expect(await quorum.submit(foreign[1] ?? '')).toMatchObject({
        code: CoreErrorCode.unsealFailed,
      });
    }
    const limited = await quorum.submit(shares[0] ?? '');
    expect(limited).toMatchObject({ code: CoreErrorCode.unsealRateLimited, retryAfterMs: 1000 });
    expect(quorum.progress().progress).toBe(0);
    clock.advance(1000);
    await quorum.submit(shares[0] ?? '');
    expect(await quorum.submit(shares[1] ?? '')).toMatchObject({ ok: true, done: true });
  });

  it('ShareQuorum serializes concurrent submissions so one threshold verifies once', async () => {
    const { shares, quorum } = await setUp({ shares: 3, threshold: 2 });
    const results = await Promise.all([
      quorum.submit(shares[0] ?? ''),
      quorum.submit(shares[1] ?? ''),
      quorum.submit(shares[2] ?? ''),
    ]);
    expect(results.map((r) => (r.ok ? (r.done ? 'done' : 'more') : r.code))).toEqual([
      'more',
      'done',
      'more',
    ]);
  });

  it('ShareQuorum zeroes the shares it held on reset and the candidate after verifying', async () => {
    const seen: SecretKey[] = [];
    const config = { shares: 2, threshold: 2 };
    const limiter = new AttemptLimiter(new ManualClock());
    const quorum = new ShareQuorum<boolean>({
      kind: 'unseal',
      config,
      limiter,
      open: (candidate) => {
        seen.push(candidate);
        return Promise.resolve(true);
      },
    });
    const mine = SecretKey.generate(33);
    await quorum.submit(mine);
    expect(mine.isZeroed).toBe(false);
    const second = SecretKey.generate(33);
    second.reveal()[32] = (mine.reveal()[32] ?? 0) ^ 1;
    await quorum.submit(second);
    expect(seen[0]?.isZeroed).toBe(true);
  });

  it('ShareQuorum passes an operating failure of open through and still resets', async () => {
    const limiter = new AttemptLimiter(new ManualClock());
    const quorum = new ShareQuorum<boolean>({
      kind: 'unseal',
      config: { shares: 1, threshold: 1 },
      limiter,
      open: () => Promise.reject(new Error('storage failed')),
    });
    await expect(quorum.submit(SecretKey.generate(32))).rejects.toThrow('storage failed');
    expect(quorum.progress().progress).toBe(0);
    expect(limiter.failures).toBe(0);
  });
});
