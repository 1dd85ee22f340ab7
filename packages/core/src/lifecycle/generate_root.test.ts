/**
 * Goal: generate-root makes a working root token from a quorum of unseal shares, delivered
 * under the requester's one-time key; the attempt has a nonce, can be cancelled, refuses a
 * second start, and fails a bad share set with one fixed message.
 * Method: a single-voter node with a Shamir seal on real LevelDB, driven on a manual clock;
 * the token "works" when its HMAC'd entry exists (findToken).
 */
import { InMemoryNetwork, ManualClock } from '@coffer/raft/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { SecretKey } from '../barrier/secret_key.ts';
import { CoreErrorCode } from '../errors.ts';
import { encodeShare } from '../seal/share_encoding.ts';
import type { CofferNode } from './coffer_node.ts';
import type { GenerateRootStep } from './generate_root.ts';
import {
  closeOpenedNodes,
  drive,
  openNode,
  removeRoot,
  singleNodeOptions,
  tempRoot,
  type Harness,
} from './lifecycle_harness.ts';
import { decodeTokenWithOtp, generateRootOtp } from './root_token_otp.ts';

const harness: Harness = { root: '', clock: new ManualClock(), network: new InMemoryNetwork() };

async function submitAll(
  node: CofferNode,
  shares: readonly string[],
  nonce: string,
): Promise<GenerateRootStep | undefined> {
  let last: GenerateRootStep | undefined;
  for (const share of shares) {
    last = await drive(harness, node.submitGenerateRootShare(share, { nonce }));
  }
  return last;
}

describe('CofferNode generate-root', () => {
  let node: CofferNode;
  let shares: readonly string[] = [];

  beforeAll(async () => {
    Object.assign(harness, { root: await tempRoot() });
    node = await openNode(
      harness,
      singleNodeOptions(harness, { dir: 'g', seal: { type: 'shamir' } }),
    );
    shares = (await drive(harness, node.init())).unsealShares;
  });

  afterEach(() => {
    node.cancelGenerateRoot();
  });

  afterAll(async () => {
    await closeOpenedNodes();
    await removeRoot(harness.root);
  });

  it('CofferNode generate-root returns a token under the one-time key that exists in the store', async () => {
    const otp = generateRootOtp();
    const started = node.startGenerateRoot(otp);
    expect(started).toMatchObject({ threshold: 3, shares: 5, progress: 0 });
    const last = await submitAll(node, shares.slice(1, 4), started.attemptNonce);
    expect(last).toMatchObject({ ok: true, done: true });
    const encoded = last?.ok === true && last.done ? last.encodedToken : '';
    const token = decodeTokenWithOtp(encoded, otp);
    expect(token).toMatch(/^cfr\./);
    expect(await drive(harness, node.findToken(token))).toMatchObject({ policies: ['root'] });
    expect(node.generateRootProgress()).toBeUndefined();
  });

  it('CofferNode generate-root refuses a second start, a wrong nonce and shares after cancel', async () => {
    const started = node.startGenerateRoot(generateRootOtp());
    expect(() => node.startGenerateRoot(generateRootOtp())).toThrow(
      expect.objectContaining({ code: CoreErrorCode.attemptInvalid }),
    );
    await expect(
      node.submitGenerateRootShare(shares[0] ?? '', { nonce: 'other' }),
    ).rejects.toMatchObject({ code: CoreErrorCode.attemptInvalid });
    await drive(
      harness,
      node.submitGenerateRootShare(shares[0] ?? '', { nonce: started.attemptNonce }),
    );
    expect(node.generateRootProgress()).toMatchObject({ progress: 1 });
    node.cancelGenerateRoot();
    expect(node.generateRootProgress()).toBeUndefined();
    await expect(
      node.submitGenerateRootShare(shares[1] ?? '', { nonce: started.attemptNonce }),
    ).rejects.toMatchObject({ code: CoreErrorCode.attemptInvalid });
  });

  it('CofferNode generate-root fails wrong share sets with one message and keeps the attempt', async () => {
    const started = node.startGenerateRoot(generateRootOtp());
    const random = (): string => encodeShare(SecretKey.generate(33));
    const messages = new Set<string>();
    for (const set of [
      [random(), random(), random()],
      [shares[0] ?? '', shares[1] ?? '', random()],
    ]) {
      const last = await submitAll(node, set, started.attemptNonce);
      expect(last).toMatchObject({ ok: false, code: CoreErrorCode.unsealFailed });
      messages.add(last?.ok === false ? last.message : '');
    }
    expect(messages.size).toBe(1);
    const done = await submitAll(node, shares.slice(0, 3), started.attemptNonce);
    expect(done).toMatchObject({ ok: true, done: true });
  });

  it('CofferNode generate-root needs an unsealed node', async () => {
    await node.seal();
    expect(() => node.startGenerateRoot(generateRootOtp())).toThrow(
      expect.objectContaining({ code: CoreErrorCode.sealed }),
    );
  });
});
