/**
 * Goal (issue 6 proof, items 3, 4, 7): a node with a PKCS#11 seal on a real SoftHSM2 token
 * initializes with an HSM key it generates, returning recovery (and break-glass) shares and no
 * unseal shares; a restart unseals with no human; with the token's directory moved away the
 * node stays sealed, says why, and unseals by itself once it is back; recovery shares make a
 * root token; with the token destroyed, break-glass shares unseal it.
 * Method: one SoftHSM2 token for this file (its own SOFTHSM2_CONF, set before the first
 * C_Initialize; Vitest runs each file in its own process), a single-voter node on real LevelDB,
 * closed and reopened in this process; the seal's retries run on the manual clock the harness
 * moves, so nothing sleeps.
 */
import { inspect } from 'node:util';

import { InMemoryNetwork, ManualClock } from '@coffer/raft/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { SealUnavailableReason, type SealLogger } from '../seal/seal_provider.ts';
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
import { decodeTokenWithOtp, generateRootOtp } from './root_token_otp.ts';

const harness: Harness = { root: '', clock: new ManualClock(), network: new InMemoryNetwork() };
let token: SoftHsmToken;

/** Everything the nodes showed: log lines, statuses, refusals and errors. */
const observed: string[] = [];
const logger: SealLogger = {
  info: (event, fields) => observed.push(inspect({ event, fields })),
  warn: (event, fields) => observed.push(inspect({ event, fields })),
};

function options(): ReturnType<typeof singleNodeOptions> {
  return singleNodeOptions(harness, {
    dir: 'hsm',
    seal: {
      type: 'pkcs11',
      config: {
        libraryPath: softHsmLibraryPath,
        tokenLabel: token.label,
        pinFile: token.pinFile,
        keyLabel: 'coffer-root-key',
      },
      backoff: { delayBaseMs: 100, delayMaxMs: 400, jitter: () => 0 },
    },
    logger,
  });
}

async function readGreeting(node: CofferNode): Promise<string> {
  await waitForLeader(harness, node);
  return new TextDecoder().decode(await drive(harness, node.secureStore.get('secret/data/hi')));
}

function reasonOf(node: CofferNode): string | undefined {
  observed.push(JSON.stringify(node.status()));
  const seal = node.status().seal;
  return seal?.state === 'unavailable' ? seal.reason : undefined;
}

describe('CofferNode with a PKCS#11 seal', () => {
  let recoveryShares: readonly string[] = [];
  let breakGlassShares: readonly string[] = [];
  const handedOut: string[] = [];

  beforeAll(async () => {
    token = createSoftHsmToken('coffer-node-test');
    token.useInThisProcess();
    Object.assign(harness, { root: await tempRoot() });
  }, 300_000);

  afterEach(closeOpenedNodes);

  afterAll(async () => {
    await closeOpenedNodes();
    await removeRoot(harness.root);
    token.cleanup();
  });

  it('CofferNode.init with the HSM returns recovery and break-glass shares, and a restart auto-unseals', async () => {
    const node = await openNode(harness, options());
    const init = await drive(
      harness,
      node.init({
        generateHsmKey: true,
        shares: 3,
        threshold: 2,
        breakGlass: { shares: 3, threshold: 2 },
      }),
    );
    expect(init).toMatchObject({ sealType: 'pkcs11', unsealShares: [] });
    recoveryShares = init.recoveryShares;
    handedOut.push(init.rootToken ?? '', ...recoveryShares);
    breakGlassShares = init.breakGlassShares;
    expect(recoveryShares).toHaveLength(3);
    expect(breakGlassShares).toHaveLength(3);
    await drive(harness, node.secureStore.put('secret/data/hi', new TextEncoder().encode('there')));
    await node.close();

    const reopened = await openNode(harness, options());
    await driveUntil(harness, () => reopened.status().raftRunning);
    expect(reopened.status()).toMatchObject({
      sealed: false,
      raftRunning: true,
      seal: { state: 'ready' },
    });
    expect(await readGreeting(reopened)).toBe('there');
    await reopened.close();
  });

  it('CofferNode stays sealed with token_absent while the token is away and unseals by itself when it is back', async () => {
    token.moveAway();
    const node = await openNode(harness, options());
    await driveUntil(harness, () => reasonOf(node) === SealUnavailableReason.tokenAbsent);
    harness.clock.advance(2_000);
    await drive(harness, new Promise((resolve) => setImmediate(resolve)));
    expect(node.status()).toMatchObject({ sealed: true, raftRunning: false, initialized: true });
    expect(node.gate({ operation: 'read', path: 'secret/data/hi' })).toMatchObject({
      ok: false,
      code: CoreErrorCode.sealed,
    });
    await expect(node.submitUnsealShare(recoveryShares[0] ?? '')).rejects.toMatchObject({
      code: CoreErrorCode.sealTypeMismatch,
    });
    token.moveBack();
    await driveUntil(harness, () => node.status().raftRunning);
    expect(await readGreeting(node)).toBe('there');
  });

  it('CofferNode generate-root with recovery shares makes a working root token', async () => {
    const node = await openNode(harness, options());
    await driveUntil(harness, () => node.status().raftRunning);
    await waitForLeader(harness, node);
    const otp = generateRootOtp();
    const { attemptNonce } = node.startGenerateRoot(otp);
    await drive(
      harness,
      node.submitGenerateRootShare(recoveryShares[2] ?? '', { nonce: attemptNonce }),
    );
    const done = await drive(
      harness,
      node.submitGenerateRootShare(recoveryShares[0] ?? '', { nonce: attemptNonce }),
    );
    const encoded = done.ok && done.done ? done.encodedToken : '';
    const rootToken = decodeTokenWithOtp(encoded, otp);
    handedOut.push(rootToken);
    expect(await drive(harness, node.findToken(rootToken))).toMatchObject({ policies: ['root'] });
    await node.close();
  });

  it('CofferNode rekey of the recovery shares keeps the HSM seal and the new shares authorize', async () => {
    const node = await openNode(harness, options());
    await driveUntil(harness, () => node.status().raftRunning);
    await waitForLeader(harness, node);
    const attempt = node.startRekey({ shares: 4, threshold: 3 });
    let step = await drive(
      harness,
      node.submitRekeyShare(recoveryShares[0] ?? '', { nonce: attempt.attemptNonce }),
    );
    step = await drive(
      harness,
      node.submitRekeyShare(recoveryShares[1] ?? '', { nonce: attempt.attemptNonce }),
    );
    const fresh = step.ok && step.done ? step.shares : [];
    expect(fresh).toHaveLength(4);
    const { attemptNonce } = node.startGenerateRoot(generateRootOtp());
    let last;
    for (const share of recoveryShares.slice(0, 3)) {
      last = await drive(harness, node.submitGenerateRootShare(share, { nonce: attemptNonce }));
    }
    expect(last).toMatchObject({ ok: false, code: CoreErrorCode.unsealFailed });
    node.cancelGenerateRoot();
    const again = node.startGenerateRoot(generateRootOtp());
    for (const share of fresh.slice(1, 4)) {
      last = await drive(
        harness,
        node.submitGenerateRootShare(share, { nonce: again.attemptNonce }),
      );
    }
    expect(last).toMatchObject({ ok: true, done: true });
    recoveryShares = fresh;
  });

  it('CofferNode unseals with break-glass shares once the token is destroyed', async () => {
    token.destroy();
    const node = await openNode(harness, options());
    await driveUntil(harness, () => reasonOf(node) === SealUnavailableReason.tokenAbsent);
    const first = await drive(harness, node.submitBreakGlassShare(breakGlassShares[1] ?? ''));
    expect(first).toMatchObject({ ok: true, sealed: true });
    const wrong = await drive(harness, node.submitBreakGlassShare(recoveryShares[0] ?? ''));
    observed.push(inspect(wrong));
    expect(wrong).toMatchObject({ ok: false, code: CoreErrorCode.unsealFailed });
    await drive(harness, node.submitBreakGlassShare(breakGlassShares[1] ?? ''));
    const last = await drive(harness, node.submitBreakGlassShare(breakGlassShares[2] ?? ''));
    expect(last).toEqual({ ok: true, sealed: false, progress: undefined });
    expect(await readGreeting(node)).toBe('there');
  });

  it('CofferNode with an HSM never shows the PIN, a share or a root token', () => {
    const text = observed.join('\n');
    expect(text).toContain('token_absent');
    const secrets = [token.userPin, ...recoveryShares, ...breakGlassShares, ...handedOut];
    expect(secrets.filter((secret) => text.includes(secret.replace(/^coffer1:/, '')))).toEqual([]);
  });
});
