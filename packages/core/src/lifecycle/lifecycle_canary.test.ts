/**
 * Goal (issue 6 proof, STYLE.md 5.7): no unseal share, root key or root token reaches a status,
 * a log line, a refusal, an error (with its cause chain), the inspect or JSON form of a node, or
 * any file of the data directory.
 * Method: run a Shamir node through init, restart, good and bad unseal attempts, the gate,
 * generate-root and seal, collecting everything it shows; then rebuild the root key from the
 * shares and the stored blob, and search the collected text and every byte on disk for each
 * secret as text, hex, base64 and base64url.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { InMemoryNetwork, ManualClock } from '@coffer/raft/testing';
import { LevelStateStore } from '@coffer/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SecretKey } from '../barrier/secret_key.ts';
import { unwrapWithKey } from '../seal/key_wrap.ts';
import { WrapPurpose } from '../seal/seal_binding.ts';
import type { SealLogger } from '../seal/seal_provider.ts';
import { combineShares } from '../seal/shamir.ts';
import { decodeShare, encodeShare } from '../seal/share_encoding.ts';
import {
  closeOpenedNodes,
  drive,
  openNode,
  removeRoot,
  singleNodeOptions,
  tempRoot,
  type Harness,
} from './lifecycle_harness.ts';
import { generateRootOtp } from './root_token_otp.ts';
import { wrappedRootKeyPath } from './seal_paths.ts';

const harness: Harness = { root: '', clock: new ManualClock(), network: new InMemoryNetwork() };
const observed: string[] = [];

function observe(value: unknown): void {
  observed.push(inspect(value, { depth: Number.POSITIVE_INFINITY, showHidden: true }));
  try {
    observed.push(JSON.stringify(value));
  } catch {
    // Not serializable (a cycle); inspect above still saw it.
  }
}

const logger: SealLogger = {
  info: (event, fields) => {
    observe({ event, fields });
  },
  warn: (event, fields) => {
    observe({ event, fields });
  },
};

async function observeFailure(work: () => Promise<unknown>): Promise<void> {
  try {
    observe(await work());
  } catch (error) {
    observe(error);
  }
}

function forms(bytes: Buffer): string[] {
  return [
    bytes.toString('hex'),
    bytes.toString('base64').replace(/=+$/, ''),
    bytes.toString('base64url'),
  ];
}

async function diskBytes(dir: string): Promise<Buffer[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  return Promise.all(files.map((file) => readFile(file)));
}

describe('lifecycle canary', () => {
  beforeAll(async () => {
    Object.assign(harness, { root: await tempRoot() });
  });

  afterAll(async () => {
    await closeOpenedNodes();
    await removeRoot(harness.root);
  });

  it('CofferNode never shows shares, the root key or the root token', async () => {
    const options = singleNodeOptions(harness, { dir: 'k', seal: { type: 'shamir' }, logger });
    const node = await openNode(harness, options);
    observe(node.status());
    const init = await drive(harness, node.init());
    const shares = init.unsealShares;
    observe(node.status());
    observe(node);
    await observeFailure(() => drive(harness, node.init()));
    const otp = generateRootOtp();
    const attempt = node.startGenerateRoot(otp);
    observe(attempt);
    for (const share of shares.slice(0, 3)) {
      observe(
        await drive(harness, node.submitGenerateRootShare(share, { nonce: attempt.attemptNonce })),
      );
    }
    await node.close();

    const reopened = await openNode(harness, options);
    observe(reopened.status());
    observe(reopened.gate({ operation: 'read', path: 'secret/data/x' }));
    await observeFailure(() => Promise.resolve(reopened.secureStore));
    const wrong = encodeShare(SecretKey.generate(33));
    for (const share of [shares[0] ?? '', shares[0] ?? '', shares[1] ?? '', wrong, 'coffer1:bad']) {
      observe(await drive(harness, reopened.submitUnsealShare(share)));
      observe(reopened.status());
    }
    for (const share of shares.slice(2, 5)) {
      observe(await drive(harness, reopened.submitUnsealShare(share)));
      observe(reopened.status());
    }
    observe(reopened);
    await reopened.close();

    const store = await LevelStateStore.open(join(options.dataDir, 'state'));
    const wrapped = store.get(wrappedRootKeyPath)?.value ?? new Uint8Array();
    await store.close();
    const decoded = shares.slice(0, 3).map((share) => decodeShare(share, 33) as SecretKey);
    const unsealKey = (await combineShares(decoded)) as SecretKey;
    const binding = { clusterId: init.clusterId };
    const rootKey = unwrapWithKey(unsealKey, wrapped, {
      purpose: WrapPurpose.rootKeyShamir,
      binding,
    });
    expect(rootKey).toBeDefined();

    const textSecrets = [...shares, init.rootToken ?? '', otp];
    const byteSecrets = [
      ...decoded.map((share) => Buffer.from(share.reveal())),
      Buffer.from(unsealKey.reveal()),
      Buffer.from(rootKey?.reveal() ?? []),
    ];
    const needles = [
      ...textSecrets.map((s) => s.replace(/^coffer1:/, '')),
      ...byteSecrets.flatMap(forms),
    ];
    const text = observed.join('\n');
    expect(needles.filter((needle) => text.includes(needle))).toEqual([]);
    const disk = await diskBytes(options.dataDir);
    const onDisk = [...textSecrets, ...byteSecrets.flatMap(forms)].filter((needle) =>
      disk.some((bytes) => bytes.includes(Buffer.from(needle))),
    );
    const rawOnDisk = byteSecrets.filter((secret) => disk.some((bytes) => bytes.includes(secret)));
    expect(onDisk).toEqual([]);
    expect(rawOnDisk).toEqual([]);
    expect(text).toContain(init.clusterId);
  });
});
