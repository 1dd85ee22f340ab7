/**
 * Goal: the seal migration routes (sys/seal-migration, /init, /update) drive a migration
 * Shamir → PKCS#11 → Shamir through the router with a root token: a PKCS#11 target comes from
 * the node's config only (COFFER_CORE_SEAL_MIGRATION_TARGET_MISSING without one), a second
 * start is COFFER_CORE_SEAL_MIGRATION_RUNNING, a wrong nonce and a bad type are refused, cancel
 * drops the attempt, the last share answers the new shares under init's names, and seal-status
 * shows the migration (running, then the stored type beside the configured one). No share or
 * PIN reaches a refusal, a status or the server log.
 * Method: a real SoftHSM2 token for this file (own SOFTHSM2_CONF, set before the first
 * C_Initialize), single-voter nodes on real LevelDB and the harness's manual clock; requests go
 * through CofferNode.handle.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { InMemoryNetwork, ManualClock } from '@coffer/raft/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { createServerLog } from '../logging/server_log.ts';
import type { CoreRequest, CoreResponse } from '../router/request.ts';
import type { Pkcs11SealConfig } from '../seal/pkcs11_config.ts';
import {
  createSoftHsmToken,
  softHsmLibraryPath,
  type SoftHsmToken,
} from '../seal/softhsm_fixture.ts';
import type { CofferNode, CofferNodeOptions } from './coffer_node.ts';
import {
  closeOpenedNodes,
  drive,
  driveUntil,
  openNode,
  removeRoot,
  singleNodeOptions,
  tempRoot,
  type Harness,
} from './lifecycle_harness.ts';

const harness: Harness = { root: '', clock: new ManualClock(), network: new InMemoryNetwork() };
let token: SoftHsmToken;
const seen: string[] = [];

function hsmConfig(): Pkcs11SealConfig {
  return {
    libraryPath: softHsmLibraryPath,
    tokenLabel: token.label,
    pinFile: token.pinFile,
    keyLabel: 'coffer-routes-key',
  };
}

function nodeOptions(
  dir: string,
  seal: CofferNodeOptions['seal'],
  target?: Pkcs11SealConfig,
): CofferNodeOptions {
  return {
    ...singleNodeOptions(harness, { dir, seal }),
    serverLog: createServerLog({ destination: join(harness.root, `${dir}.log`), sync: true }),
    ...(target === undefined ? {} : { sealMigrationTarget: target }),
  };
}

async function call(node: CofferNode, request: CoreRequest): Promise<CoreResponse> {
  const response = await drive(harness, node.handle(request));
  seen.push(JSON.stringify(response));
  return response;
}

async function data(node: CofferNode, request: CoreRequest): Promise<Record<string, unknown>> {
  const response = await call(node, request);
  if (!response.ok) {
    throw new Error(`${request.path}: ${response.code} ${response.message}`);
  }
  return { ...response.data };
}

async function refusal(node: CofferNode, request: CoreRequest): Promise<string> {
  const response = await call(node, request);
  return response.ok ? 'ok' : response.code;
}

function sealStatus(node: CofferNode): Promise<Record<string, unknown>> {
  return data(node, { operation: 'read', path: 'sys/seal-status' });
}

/** Submits each share through sys/seal-migration/update; the last answer. */
async function submitAll(
  node: CofferNode,
  request: { readonly token: string; readonly nonce: string; readonly shares: readonly string[] },
): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  for (const key of request.shares) {
    last = await data(node, {
      operation: 'update',
      path: 'sys/seal-migration/update',
      token: request.token,
      data: { key, nonce: request.nonce },
    });
  }
  return last;
}

async function initShamir(dir: string, target?: Pkcs11SealConfig) {
  const node = await openNode(harness, nodeOptions(dir, { type: 'shamir' }, target));
  const init = await drive(harness, node.init({ shares: 3, threshold: 2 }));
  return { node, shares: init.unsealShares, rootToken: init.rootToken ?? '' };
}

describe('sys/seal-migration routes', () => {
  beforeAll(async () => {
    token = createSoftHsmToken('coffer-routes');
    token.useInThisProcess();
    Object.assign(harness, { root: await tempRoot() });
  }, 300_000);

  afterEach(closeOpenedNodes);

  afterAll(async () => {
    await removeRoot(harness.root);
    token.cleanup();
  });

  it('sys/seal-migration/init refuses a PKCS#11 target the config does not name, and bad input', async () => {
    const { node, rootToken } = await initShamir('plain');
    const init = {
      operation: 'update' as const,
      path: 'sys/seal-migration/init',
      token: rootToken,
    };
    expect(await refusal(node, { ...init, data: { type: 'pkcs11' } })).toBe(
      CoreErrorCode.sealMigrationTargetMissing,
    );
    expect(await refusal(node, { ...init, data: { type: 'vault' } })).toBe(
      CoreErrorCode.invalidRequest,
    );
    expect(await refusal(node, { ...init, data: { type: 'shamir', secret_shares: 3 } })).toBe(
      CoreErrorCode.invalidRequest,
    );
    expect(await refusal(node, { ...init, data: { type: 'shamir', generate_hsm_key: true } })).toBe(
      CoreErrorCode.invalidRequest,
    );
    expect(
      await refusal(node, { ...init, data: { type: 'pkcs11', pin_file: '/etc/passwd' } }),
    ).toBe(CoreErrorCode.invalidRequest);
    const anonymous = { operation: 'update' as const, path: init.path, data: { type: 'shamir' } };
    expect(await refusal(node, anonymous)).toBe(CoreErrorCode.permissionDenied);
    expect(
      await data(node, { operation: 'read', path: 'sys/seal-migration', token: rootToken }),
    ).toMatchObject({ started: false, nonce: '' });
  });

  it('sys/seal-migration moves a node Shamir → PKCS#11 → Shamir with status all along', async () => {
    const first = await initShamir('moving', hsmConfig());
    const { node, rootToken } = first;
    const migration = { path: 'sys/seal-migration', token: rootToken };
    const init = {
      operation: 'update' as const,
      path: 'sys/seal-migration/init',
      token: rootToken,
    };
    const started = await data(node, {
      ...init,
      data: { type: 'pkcs11', secret_shares: 3, secret_threshold: 2, generate_hsm_key: true },
    });
    expect(started).toMatchObject({ started: true, t: 2, n: 3, progress: 0 });
    expect(started).toMatchObject({ target_type: 'pkcs11', new_shares: 3, new_threshold: 2 });
    expect(await refusal(node, { ...init, data: { type: 'shamir' } })).toBe(
      CoreErrorCode.sealMigrationRunning,
    );
    expect(await sealStatus(node)).toMatchObject({ seal_migration: 'running', type: 'shamir' });
    const wrongNonce = { key: first.shares[0], nonce: 'another-attempt' };
    expect(
      await refusal(node, { ...init, path: 'sys/seal-migration/update', data: wrongNonce }),
    ).toBe(CoreErrorCode.attemptInvalid);

    await data(node, { ...migration, operation: 'delete' });
    expect(await data(node, { ...migration, operation: 'read' })).toMatchObject({
      started: false,
    });
    expect(await sealStatus(node)).toMatchObject({ seal_migration: 'none', stored_type: 'shamir' });

    const again = await data(node, {
      ...init,
      data: { type: 'pkcs11', secret_shares: 3, secret_threshold: 2, generate_hsm_key: true },
    });
    const nonce = String(again['nonce']);
    const counted = await submitAll(node, {
      token: rootToken,
      nonce,
      shares: first.shares.slice(0, 1),
    });
    expect(counted).toMatchObject({ complete: false, progress: 1, nonce });
    const done = await submitAll(node, {
      token: rootToken,
      nonce,
      shares: first.shares.slice(1, 2),
    });
    expect(done).toMatchObject({ complete: true, seal_type: 'pkcs11', keys: [] });
    const recovery = done['recovery_keys'] as string[];
    expect(recovery).toHaveLength(3);
    expect(await sealStatus(node)).toMatchObject({
      sealed: false,
      type: 'shamir',
      stored_type: 'pkcs11',
      seal_migration: 'config_differs',
    });
    await node.close();

    // A node still configured with the old seal: sealed, says so, and refuses its old shares.
    const stale = await openNode(harness, nodeOptions('moving', { type: 'shamir' }));
    expect(await sealStatus(stale)).toMatchObject({
      sealed: true,
      type: 'shamir',
      stored_type: 'pkcs11',
      seal_migration: 'config_differs',
    });
    const unseal = await call(stale, {
      operation: 'update',
      path: 'sys/unseal',
      data: { key: first.shares[0] },
    });
    expect(unseal).toMatchObject({ ok: false, code: CoreErrorCode.sealTypeMismatch });
    expect(unseal.ok ? '' : unseal.message).toMatch(/^Start this node with the "pkcs11" seal/);
    expect(stale.status().sealed).toBe(true);
    await stale.close();

    const hsmNode = await openNode(
      harness,
      nodeOptions('moving', {
        type: 'pkcs11',
        config: hsmConfig(),
        backoff: { delayBaseMs: 100, jitter: () => 0 },
      }),
    );
    await driveUntil(harness, () => hsmNode.status().raftRunning);
    expect(await sealStatus(hsmNode)).toMatchObject({
      sealed: false,
      type: 'pkcs11',
      stored_type: 'pkcs11',
      seal_migration: 'none',
    });
    const back = await data(hsmNode, {
      ...init,
      data: { type: 'shamir', secret_shares: 3, secret_threshold: 2 },
    });
    expect(back).toMatchObject({ target_type: 'shamir', t: 2, n: 3 });
    const unsealKeys = await submitAll(hsmNode, {
      token: rootToken,
      nonce: String(back['nonce']),
      shares: recovery.slice(0, 2),
    });
    expect(unsealKeys).toMatchObject({ complete: true, seal_type: 'shamir', recovery_keys: [] });
    expect(unsealKeys['keys']).toHaveLength(3);
    expect(await sealStatus(hsmNode)).toMatchObject({
      type: 'pkcs11',
      stored_type: 'shamir',
      seal_migration: 'config_differs',
    });

    await hsmNode.close();

    // A node configured with the new seal before it holds the new records: sealed, no crash.
    const early = await openNode(
      harness,
      nodeOptions('moving', {
        type: 'pkcs11',
        config: hsmConfig(),
        backoff: { delayBaseMs: 100, jitter: () => 0 },
      }),
    );
    await driveUntil(harness, () => early.status().autoUnsealFailure !== undefined);
    expect(await sealStatus(early)).toMatchObject({
      sealed: true,
      type: 'pkcs11',
      stored_type: 'shamir',
      seal_migration: 'config_differs',
      auto_unseal_failure: CoreErrorCode.sealTypeMismatch,
    });

    const secrets = [...first.shares, ...recovery, token.userPin];
    const log = await readFile(join(harness.root, 'moving.log'), 'utf8');
    for (const secret of secrets) {
      expect(log).not.toContain(secret);
      // NB: a share may appear only in the answer that hands it out.
      expect(
        seen.filter((line) => line.includes(secret) && !line.includes('"complete":true')),
      ).toEqual([]);
    }
  });
});
