/**
 * Goal: rekey through a node replaces the unseal shares without touching the root key: after
 * a rekey from 5/3 to 3/2 and a restart, the old shares fail, two new ones unseal, and the data
 * written before reads back; a wrong share set fails and keeps the old shares; the attempt
 * refuses a wrong nonce and a second start.
 * Method: a single-voter Shamir node on real LevelDB, driven on a manual clock.
 */
import { InMemoryNetwork, ManualClock } from '@coffer/raft/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { SecretKey } from '../barrier/secret_key.ts';
import { CoreErrorCode } from '../errors.ts';
import { encodeShare } from '../seal/share_encoding.ts';
import type { CofferNode } from './coffer_node.ts';
import {
  closeOpenedNodes,
  drive,
  openNode,
  removeRoot,
  singleNodeOptions,
  tempRoot,
  waitForLeader,
  type Harness,
} from './lifecycle_harness.ts';
import type { RekeyStep } from './rekey_flow.ts';

const harness: Harness = { root: '', clock: new ManualClock(), network: new InMemoryNetwork() };
const shamir = { type: 'shamir' } as const;

async function rekeyWith(
  node: CofferNode,
  shares: readonly string[],
  nonce: string,
): Promise<RekeyStep | undefined> {
  let last: RekeyStep | undefined;
  for (const share of shares) {
    last = await drive(harness, node.submitRekeyShare(share, { nonce }));
  }
  return last;
}

async function unsealWith(node: CofferNode, shares: readonly string[]): Promise<boolean> {
  for (const share of shares) {
    await drive(harness, node.submitUnsealShare(share));
  }
  return !node.status().sealed;
}

describe('CofferNode rekey', () => {
  beforeAll(async () => {
    Object.assign(harness, { root: await tempRoot() });
  });

  afterEach(closeOpenedNodes);

  afterAll(async () => {
    await removeRoot(harness.root);
  });

  it('CofferNode rekey gives new shares that unseal after a restart while the old ones fail', async () => {
    const options = singleNodeOptions(harness, { dir: 'r', seal: shamir });
    const node = await openNode(harness, options);
    const old = (await drive(harness, node.init())).unsealShares;
    await drive(harness, node.secureStore.put('secret/data/r', new TextEncoder().encode('kept')));
    const wrongAttempt = node.startRekey({ shares: 3, threshold: 2 });
    expect(() => node.startRekey({ shares: 3, threshold: 2 })).toThrow(
      expect.objectContaining({ code: CoreErrorCode.attemptInvalid }),
    );
    await expect(node.submitRekeyShare(old[0] ?? '', { nonce: 'other' })).rejects.toMatchObject({
      code: CoreErrorCode.attemptInvalid,
    });
    const random = (): string => encodeShare(SecretKey.generate(33));
    const failed = await rekeyWith(
      node,
      [old[0] ?? '', random(), old[1] ?? ''],
      wrongAttempt.attemptNonce,
    );
    expect(failed).toMatchObject({ ok: false, code: CoreErrorCode.unsealFailed });
    node.cancelRekey();

    const attempt = node.startRekey({ shares: 3, threshold: 2 });
    expect(attempt).toMatchObject({ threshold: 3, shares: 5, progress: 0, next: { shares: 3 } });
    const done = await rekeyWith(node, old.slice(2, 5), attempt.attemptNonce);
    const fresh = done?.ok === true && done.done ? done.shares : [];
    expect(fresh).toHaveLength(3);
    expect(node.rekeyProgress()).toBeUndefined();
    await node.close();

    const reopened = await openNode(harness, options);
    expect(reopened.status().unseal).toMatchObject({ threshold: 2, shares: 3 });
    expect(await unsealWith(reopened, old.slice(0, 2))).toBe(false);
    reopened.resetUnseal();
    expect(await unsealWith(reopened, [fresh[2] ?? '', fresh[0] ?? ''])).toBe(true);
    await waitForLeader(harness, reopened);
    const read = await drive(harness, reopened.secureStore.get('secret/data/r'));
    expect(new TextDecoder().decode(read)).toBe('kept');
  });

  it('CofferNode.startRekey refuses a bad config and a sealed node', async () => {
    const node = await openNode(harness, singleNodeOptions(harness, { dir: 's', seal: shamir }));
    await drive(harness, node.init());
    expect(() => node.startRekey({ shares: 2, threshold: 3 })).toThrow(
      expect.objectContaining({ code: CoreErrorCode.sealConfigInvalid }),
    );
    await node.seal();
    expect(() => node.startRekey({ shares: 3, threshold: 2 })).toThrow(
      expect.objectContaining({ code: CoreErrorCode.sealed }),
    );
  });
});
