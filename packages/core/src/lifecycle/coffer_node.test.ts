/**
 * Goal: the Shamir lifecycle of a node holds end to end (issue 6 items 1-3): init on a fresh
 * node returns shares and a root token once; after a restart the node is sealed with Raft
 * stopped; 3 of 5 shares, one at a time, unseal it and the data written before reads back; a
 * second init is refused; wrong, foreign and same-index share sets fail with one code and one
 * message; seal() zeroes and stops, and shares unseal again.
 * Method: single-voter clusters on real LevelDB in a temporary directory, the in-memory
 * transport and a manual clock moved by the harness (no sleeps).
 */
import { ManualClock, InMemoryNetwork } from '@coffer/raft/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { SecretKey } from '../barrier/secret_key.ts';
import { CoreErrorCode } from '../errors.ts';
import { decodeShare, encodeShare } from '../seal/share_encoding.ts';
import { CofferNode, type UnsealStep } from './coffer_node.ts';
import {
  closeOpenedNodes,
  drive,
  openNode,
  removeRoot,
  singleNodeOptions,
  tempRoot,
  type Harness,
} from './lifecycle_harness.ts';

const harness: Harness = { root: '', clock: new ManualClock(), network: new InMemoryNetwork() };
const shamir = { type: 'shamir' } as const;

async function submitAll(node: CofferNode, shares: readonly string[]): Promise<UnsealStep[]> {
  const steps: UnsealStep[] = [];
  for (const share of shares) {
    steps.push(await drive(harness, node.submitUnsealShare(share)));
  }
  return steps;
}

function text(bytes: Uint8Array | undefined): string {
  return new TextDecoder().decode(bytes);
}

/** A share with the same x coordinate as `share` and other y bytes. */
function sameIndexOther(share: string): string {
  const decoded = decodeShare(share, 33) as SecretKey;
  const bytes = Buffer.from(decoded.reveal());
  bytes[0] = (bytes[0] ?? 0) ^ 0x5a;
  const changed = SecretKey.fromBytes(bytes);
  return encodeShare(changed);
}

describe('CofferNode with a Shamir seal', () => {
  let shares: readonly string[] = [];
  let foreignShares: readonly string[] = [];
  let rootToken = '';

  beforeAll(async () => {
    Object.assign(harness, { root: await tempRoot() });
  });

  afterEach(closeOpenedNodes);

  afterAll(async () => {
    await removeRoot(harness.root);
  });

  it('CofferNode.init returns 5 shares and a root token, then a restart leaves it sealed', async () => {
    const options = singleNodeOptions(harness, { dir: 'a', seal: shamir });
    const node = await openNode(harness, options);
    expect(node.status()).toMatchObject({ initialized: false, sealed: true, raftRunning: true });
    await expect(node.submitUnsealShare('coffer1:x')).rejects.toMatchObject({
      code: CoreErrorCode.notInitialized,
    });
    const racing = node.init();
    await expect(node.init()).rejects.toMatchObject({ code: CoreErrorCode.attemptInvalid });
    const result = await drive(harness, racing);
    shares = result.unsealShares;
    rootToken = result.rootToken ?? '';
    expect(shares).toHaveLength(5);
    expect(result.recoveryShares).toEqual([]);
    expect(rootToken).toMatch(/^cfr\.[A-Za-z0-9_-]{32}$/);
    expect(node.status()).toMatchObject({ initialized: true, sealed: false, sealType: 'shamir' });
    const secure = node.secureStore;
    await drive(harness, secure.put('secret/data/greeting', new TextEncoder().encode('hello')));
    await node.close();

    const reopened = await openNode(harness, options);
    const status = reopened.status();
    expect(status).toMatchObject({ initialized: true, sealed: true, raftRunning: false });
    expect(status.unseal).toEqual({ threshold: 3, shares: 5, progress: 0, nonce: undefined });
    expect(() => reopened.secureStore).toThrow(
      expect.objectContaining({ code: CoreErrorCode.sealed }),
    );
    await reopened.close();
  });

  it('CofferNode unseals with 3 of 5 shares one at a time and reads back data written before', async () => {
    const node = await openNode(harness, singleNodeOptions(harness, { dir: 'a', seal: shamir }));
    const first = await drive(harness, node.submitUnsealShare(shares[4] ?? ''));
    expect(first).toMatchObject({ ok: true, sealed: true, progress: { progress: 1 } });
    const nonce = first.ok ? first.progress?.nonce : undefined;
    expect(nonce).toEqual(expect.any(String));
    expect(node.status().unseal).toMatchObject({ progress: 1, nonce });
    const wrongNonce = await drive(
      harness,
      node.submitUnsealShare(shares[1] ?? '', { nonce: 'x' }),
    );
    expect(wrongNonce).toMatchObject({ ok: false, code: CoreErrorCode.unsealNonceMismatch });
    await drive(harness, node.submitUnsealShare(shares[2] ?? '', { nonce: nonce ?? '' }));
    const last = await drive(harness, node.submitUnsealShare(shares[0] ?? ''));
    expect(last).toEqual({ ok: true, sealed: false, progress: undefined });
    expect(node.status()).toMatchObject({
      sealed: false,
      raftRunning: true,
      unseal: { threshold: 3, shares: 5, progress: 0, nonce: undefined },
    });
    await drive(harness, waitLeader(node));
    const read = await drive(harness, node.secureStore.get('secret/data/greeting'));
    expect(text(read)).toBe('hello');
    const token = await drive(harness, node.findToken(rootToken));
    expect(token).toMatchObject({ policies: ['root'] });
    await node.close();
  });

  it('CofferNode.init is refused with COFFER_CORE_ALREADY_INITIALIZED on an initialized cluster', async () => {
    const node = await openNode(harness, singleNodeOptions(harness, { dir: 'a', seal: shamir }));
    await expect(node.init()).rejects.toMatchObject({ code: CoreErrorCode.alreadyInitialized });
    await submitAll(node, shares.slice(0, 3));
    await drive(harness, waitLeader(node));
    await expect(drive(harness, node.init())).rejects.toMatchObject({
      code: CoreErrorCode.alreadyInitialized,
    });
    await node.close();
  });

  it('CofferNode.init refuses a bad share config before touching anything', async () => {
    const node = await openNode(harness, singleNodeOptions(harness, { dir: 'b', seal: shamir }));
    for (const request of [
      { shares: 3, threshold: 4 },
      { shares: 256, threshold: 3 },
      { shares: 2, threshold: 1 },
    ]) {
      await expect(drive(harness, node.init(request))).rejects.toMatchObject({
        code: CoreErrorCode.sealConfigInvalid,
      });
    }
    expect(node.status()).toMatchObject({ initialized: false, sealed: true });
    const result = await drive(harness, node.init({ shares: 1, threshold: 1 }));
    expect(result.unsealShares).toHaveLength(1);
    await node.close();
    foreignShares = (await drive(harness, foreign())).unsealShares;
  });

  it('CofferNode fails wrong, foreign and same-index share sets with one code and message', async () => {
    const node = await openNode(harness, singleNodeOptions(harness, { dir: 'a', seal: shamir }));
    const random = (): string => encodeShare(SecretKey.generate(33));
    const sets = [
      [random(), random(), random()],
      foreignShares.slice(0, 3),
      [shares[0] ?? '', shares[1] ?? '', sameIndexOther(shares[0] ?? '')],
      [shares[0] ?? '', shares[1] ?? '', random()],
    ];
    const failures = new Set<string>();
    for (const set of sets) {
      const steps = await submitAll(node, set);
      const last = steps.at(-1);
      expect(last).toMatchObject({ ok: false, code: CoreErrorCode.unsealFailed });
      failures.add(JSON.stringify(last?.ok === false ? [last.code, last.message] : []));
      expect(node.status()).toMatchObject({ sealed: true, raftRunning: false });
    }
    expect(failures.size).toBe(1);
    const duplicate = await submitAll(node, [shares[0] ?? '', shares[0] ?? '']);
    expect(duplicate[1]).toMatchObject({ ok: false, code: CoreErrorCode.shareDuplicate });
    node.resetUnseal();
    expect(node.status().unseal).toMatchObject({ progress: 0, nonce: undefined });
    await node.close();
  });

  it('CofferNode.open refuses a bad seal config and leaves the directory free', async () => {
    const bad = singleNodeOptions(harness, {
      dir: 'a',
      seal: {
        type: 'pkcs11',
        config: { libraryPath: 'relative.so', tokenLabel: 't', pinFile: '/p', keyLabel: 'k' },
      },
    });
    await expect(CofferNode.open(bad)).rejects.toMatchObject({
      code: CoreErrorCode.sealConfigInvalid,
    });
    const node = await openNode(harness, singleNodeOptions(harness, { dir: 'a', seal: shamir }));
    expect(node.status()).toMatchObject({ initialized: true, sealed: true });
  });

  it('CofferNode unseals with every 3-subset of the 5 shares and with no 2-subset', async () => {
    const node = await openNode(harness, singleNodeOptions(harness, { dir: 'a', seal: shamir }));
    for (let a = 0; a < 5; a++) {
      for (let b = a + 1; b < 5; b++) {
        const pair = [shares[a] ?? '', shares[b] ?? ''];
        await submitAll(node, pair);
        expect(node.status()).toMatchObject({ sealed: true, unseal: { progress: 2 } });
        node.resetUnseal();
        for (let c = b + 1; c < 5; c++) {
          await submitAll(node, [...pair, shares[c] ?? '']);
          expect(node.status()).toMatchObject({ sealed: false, raftRunning: true });
          await node.seal();
        }
      }
    }
  });

  it('CofferNode.keyStatus follows rotateKeyring, and both need an unsealed node', async () => {
    const node = await openNode(harness, singleNodeOptions(harness, { dir: 'a', seal: shamir }));
    expect(() => node.keyStatus()).toThrow(expect.objectContaining({ code: CoreErrorCode.sealed }));
    await submitAll(node, shares.slice(0, 3));
    await drive(harness, waitLeader(node));
    const before = node.keyStatus();
    await drive(harness, node.rotateKeyring());
    const after = node.keyStatus();
    expect(after.term).toBe(before.term + 1);
    expect(after.terms.map((t) => t.term)).toEqual([
      ...before.terms.map((t) => t.term),
      after.term,
    ]);
    expect(text(await drive(harness, node.secureStore.get('secret/data/greeting')))).toBe('hello');
  });

  it('CofferNode.seal stops Raft and drops the keys; shares unseal it again', async () => {
    const node = await openNode(harness, singleNodeOptions(harness, { dir: 'a', seal: shamir }));
    await submitAll(node, shares.slice(2, 5));
    await drive(harness, waitLeader(node));
    await drive(harness, node.secureStore.put('secret/data/two', new TextEncoder().encode('2')));
    await node.seal();
    expect(node.status()).toMatchObject({ sealed: true, raftRunning: false, initialized: true });
    await submitAll(node, shares.slice(0, 3));
    await drive(harness, waitLeader(node));
    expect(text(await drive(harness, node.secureStore.get('secret/data/two')))).toBe('2');
    await node.close();
  });
});

/** Inits a second, unrelated cluster and returns its init result. */
async function foreign(): Promise<{ readonly unsealShares: readonly string[] }> {
  const node = await openNode(harness, singleNodeOptions(harness, { dir: 'c', seal: shamir }));
  const result = await node.init();
  await node.close();
  return result;
}

async function waitLeader(node: CofferNode): Promise<void> {
  while (node.raftNode?.raw.status().softState.role !== 'leader') {
    await new Promise((resolve) => setImmediate(resolve));
  }
}
