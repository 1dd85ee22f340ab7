/**
 * Goal (issue 6 item 5): seal migration on one node, Shamir to PKCS#11 and back, changes only
 * the root key's wrapping: after each migration and a reopen with the new seal config the node
 * unseals (by itself with the HSM, with the new shares for Shamir) and reads the data written
 * before the first migration; the old shares no longer unseal.
 * Method: a real SoftHSM2 token for this file (own SOFTHSM2_CONF, set before the first
 * C_Initialize), a single-voter node on real LevelDB, closed and reopened in this process, on
 * the harness's manual clock.
 */
import { InMemoryNetwork, ManualClock } from '@coffer/raft/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import type { Pkcs11SealConfig } from '../seal/pkcs11_config.ts';
import {
  createSoftHsmToken,
  softHsmLibraryPath,
  type SoftHsmToken,
} from '../seal/softhsm_fixture.ts';
import type { CofferNode } from './coffer_node.ts';
import {
  closeOpenedNodes,
  drive,
  driveUntil,
  openNode,
  removeRoot,
  singleNodeOptions,
  tempRoot,
  waitForLeader,
  type Harness,
} from './lifecycle_harness.ts';
import type { RekeyStep } from './rekey_flow.ts';

const harness: Harness = { root: '', clock: new ManualClock(), network: new InMemoryNetwork() };
let token: SoftHsmToken;

function hsmConfig(): Pkcs11SealConfig {
  return {
    libraryPath: softHsmLibraryPath,
    tokenLabel: token.label,
    pinFile: token.pinFile,
    keyLabel: 'coffer-migrated-key',
  };
}

const shamirOptions = (): ReturnType<typeof singleNodeOptions> =>
  singleNodeOptions(harness, { dir: 'm', seal: { type: 'shamir' } });
const hsmOptions = (): ReturnType<typeof singleNodeOptions> =>
  singleNodeOptions(harness, {
    dir: 'm',
    seal: { type: 'pkcs11', config: hsmConfig(), backoff: { delayBaseMs: 100, jitter: () => 0 } },
  });

async function submitAll(
  node: CofferNode,
  shares: readonly string[],
  nonce: string,
): Promise<readonly string[]> {
  let last: RekeyStep | undefined;
  for (const share of shares) {
    last = await drive(harness, node.submitSealMigrationShare(share, { nonce }));
  }
  return last?.ok === true && last.done ? last.shares : [];
}

async function unseal(node: CofferNode, shares: readonly string[]): Promise<void> {
  for (const share of shares) {
    await drive(harness, node.submitUnsealShare(share));
  }
}

async function greeting(node: CofferNode): Promise<string> {
  await waitForLeader(harness, node);
  return new TextDecoder().decode(await drive(harness, node.secureStore.get('secret/data/m')));
}

describe('CofferNode seal migration', () => {
  beforeAll(async () => {
    token = createSoftHsmToken('coffer-migration');
    token.useInThisProcess();
    Object.assign(harness, { root: await tempRoot() });
  }, 300_000);

  afterEach(closeOpenedNodes);

  afterAll(async () => {
    await removeRoot(harness.root);
    token.cleanup();
  });

  it('CofferNode migrates Shamir to PKCS#11 and back without touching the data', async () => {
    const node = await openNode(harness, shamirOptions());
    const unsealShares = (await drive(harness, node.init())).unsealShares;
    await drive(harness, node.secureStore.put('secret/data/m', new TextEncoder().encode('moved')));
    const toHsm = node.startSealMigration({
      type: 'pkcs11',
      config: hsmConfig(),
      generateHsmKey: true,
      recovery: { shares: 3, threshold: 2 },
    });
    const recovery = await submitAll(node, unsealShares.slice(0, 3), toHsm.attemptNonce);
    expect(recovery).toHaveLength(3);
    expect(node.status()).toMatchObject({ sealType: 'shamir', storedSealType: 'pkcs11' });
    await node.close();

    const staleShamir = await openNode(harness, shamirOptions());
    await expect(staleShamir.submitUnsealShare(unsealShares[0] ?? '')).rejects.toMatchObject({
      code: CoreErrorCode.sealTypeMismatch,
    });
    await staleShamir.close();

    const hsmNode = await openNode(harness, hsmOptions());
    await driveUntil(harness, () => hsmNode.status().raftRunning);
    expect(await greeting(hsmNode)).toBe('moved');
    const toShamir = hsmNode.startSealMigration({
      type: 'shamir',
      shares: { shares: 3, threshold: 2 },
    });
    const fresh = await submitAll(hsmNode, recovery.slice(1, 3), toShamir.attemptNonce);
    expect(fresh).toHaveLength(3);
    await hsmNode.close();

    const back = await openNode(harness, shamirOptions());
    expect(back.status()).toMatchObject({ sealed: true, unseal: { threshold: 2, shares: 3 } });
    await unseal(back, unsealShares.slice(0, 2));
    expect(back.status().sealed).toBe(true);
    back.resetUnseal();
    await unseal(back, fresh.slice(0, 2));
    expect(back.status().sealed).toBe(false);
    expect(await greeting(back)).toBe('moved');
    await back.close();

    const mismatched = await openNode(harness, hsmOptions());
    await driveUntil(harness, () => mismatched.status().autoUnsealFailure !== undefined);
    expect(mismatched.status()).toMatchObject({
      sealed: true,
      storedSealType: 'shamir',
      autoUnsealFailure: CoreErrorCode.sealTypeMismatch,
    });
  });
});
