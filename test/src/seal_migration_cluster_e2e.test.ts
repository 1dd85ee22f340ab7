/**
 * Goal: a running three-node Shamir cluster moves to a PKCS#11 seal and back, node by node,
 * under continuous writes through every node, with no failed client request and no lost write:
 * the operator adds the target seal to each node's config (a rolling restart), migrates through
 * the CLI on a standby (forwarded to the active node), then restarts each node in turn with the
 * PKCS#11 seal, and each unseals itself through the HSM with no human and rejoins. Until it is
 * restarted, a node still configured with the old seal keeps serving and its seal-status shows
 * the stored seal type beside the configured one. Then back to Shamir with the recovery shares,
 * each node restarted with the Shamir seal and unsealed with the new shares. No PIN or share
 * reaches a server log.
 * Method: `DevCluster` starts three node processes on loopback; one SoftHSM2 token of this
 * test's own (its own SOFTHSM2_CONF and token directory, the slot found by label) is shared by
 * the three nodes, standing in for a network HSM; restarts spawn `coffer server --config`
 * again; the migration runs through real `coffer` CLI processes, shares on stdin; every wait
 * polls a condition with a deadline.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DevCluster, type DevClusterManifest } from '@coffer/api';
import { CofferClient } from '@coffer/client';
import { createSoftHsmToken, softHsmLibraryPath, type SoftHsmToken } from '@coffer/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  alive,
  cleanEnv,
  cofferCommand,
  runCoffer,
  spawnServer,
  waitFor,
  waitUntilCaughtUp,
  withServerOutput,
} from './coffer_processes.ts';

const command = cofferCommand;

let root = '';
let token: SoftHsmToken | undefined;
let cluster: DevCluster | undefined;
let manifest: DevClusterManifest;
let caCert: Buffer;
let rootToken = '';
let share = '';
/** Each node's config file as DevCluster wrote it (Shamir: no seal section). */
const baseConfigs = new Map<number, string>();
const pids = new Map<number, number>();
const restarted: ChildProcess[] = [];

function serverEnv(): NodeJS.ProcessEnv {
  return cleanEnv(root, { SOFTHSM2_CONF: token?.confPath ?? '' });
}

/** The PKCS#11 seal section, as YAML flow (JSON) appended to a node's YAML config. */
function pkcs11Section(): string {
  return JSON.stringify({
    type: 'pkcs11',
    library: softHsmLibraryPath,
    token_label: token?.label ?? '',
    pin_file: token?.pinFile ?? '',
    key_label: 'coffer-cluster-wrap',
  });
}

async function writeConfig(id: number, extra: string): Promise<void> {
  const node = nodeOf(id);
  await writeFile(node.config, `${baseConfigs.get(id) ?? ''}${extra}`);
}

function nodeOf(id: number): DevClusterManifest['nodes'][number] {
  const node = manifest.nodes.find((n) => n.id === id);
  if (node === undefined) {
    throw new Error(`no node ${String(id)}`);
  }
  return node;
}

function nodeClient(id: number): CofferClient {
  return new CofferClient({ address: nodeOf(id).api_address, caCert }).withToken(rootToken);
}

async function sealStatus(id: number): Promise<Readonly<Record<string, unknown>>> {
  const client = nodeClient(id);
  try {
    return (await client.sys.sealStatus()).data;
  } finally {
    client.close();
  }
}

/** Runs `coffer <args>` against node id with the root token file; fails on a non-zero exit. */
async function coffer(id: number, args: readonly string[], stdin = ''): Promise<string> {
  const env = cleanEnv(root, {
    COFFER_ADDR: nodeOf(id).api_address,
    COFFER_CACERT: manifest.ca_cert,
  });
  const ran = await runCoffer([...args, '--token-file', manifest.root_token_file], { env, stdin });
  if (ran.code !== 0) {
    throw new Error(`coffer ${args.join(' ')} exited ${String(ran.code)}: ${ran.stderr}`);
  }
  return ran.stdout;
}

async function leaderId(): Promise<number> {
  const addresses = manifest.nodes.map((n) => n.api_address);
  const every = new CofferClient({ addresses, caCert }).withToken(rootToken);
  try {
    return Number((await every.logical.read('sys/leader')).data['leader_id']);
  } finally {
    every.close();
  }
}

/** Followers first, the leader last: each restart of a follower leaves the leader in place. */
async function restartOrder(): Promise<number[]> {
  const leader = await leaderId();
  return [1, 2, 3].filter((id) => id !== leader).concat(leader);
}

async function stop(id: number): Promise<void> {
  const pid = pids.get(id) ?? 0;
  process.kill(pid, 'SIGTERM');
  await waitFor(`node ${String(id)} to exit`, () => Promise.resolve(!alive(pid)));
}

/**
 * Restarts node id from its config: `unseal` gives it the shares (Shamir), none means it must
 * unseal by itself (HSM). Waits until it is unsealed and has applied the leader's commit.
 */
async function restart(id: number, unseal: readonly string[]): Promise<void> {
  await stop(id);
  const server = spawnServer(nodeOf(id).config, { env: serverEnv(), command });
  restarted.push(server.child);
  pids.set(id, server.child.pid ?? 0);
  const client = nodeClient(id);
  try {
    await withServerOutput(server, async () => {
      await waitFor(`node ${String(id)} to listen`, async () => {
        await client.sys.sealStatus();
        return true;
      });
      for (const key of unseal) {
        await client.sys.unseal({ key });
      }
      await waitFor(`node ${String(id)} to unseal`, async () => {
        return (await client.sys.sealStatus()).data['sealed'] === false;
      });
      await waitUntilCaughtUp(`node ${String(id)} to catch up`, client);
    });
  } finally {
    client.close();
  }
}

/** Migrates through the CLI on node `via`; answers the new shares' JSON. */
async function migrate(
  via: number,
  init: readonly string[],
  shares: readonly string[],
): Promise<Record<string, unknown>> {
  const started = JSON.parse(
    await coffer(via, ['operator', 'seal-migrate', 'init', ...init, '--format', 'json']),
  ) as { nonce: string; started: boolean };
  expect(started.started).toBe(true);
  let last: Record<string, unknown> = {};
  for (const key of shares) {
    last = JSON.parse(
      await coffer(via, ['operator', 'seal-migrate', 'submit', '--format', 'json'], `${key}\n`),
    ) as Record<string, unknown>;
  }
  expect(last['complete']).toBe(true);
  return last;
}

/** Waits until every node has applied the migration: its records hold seal `type`. */
async function untilStored(type: string): Promise<void> {
  for (const id of [1, 2, 3]) {
    await waitFor(`node ${String(id)} to hold the ${type} seal records`, async () => {
      return (await sealStatus(id))['stored_type'] === type;
    });
  }
}

beforeAll(async () => {
  token = createSoftHsmToken('coffer-cluster');
  root = await mkdtemp(join(tmpdir(), 'coffer-seal-migration-'));
  cluster = await DevCluster.start({
    dir: join(root, 'cluster'),
    nodeCount: 3,
    command,
    env: serverEnv(),
  });
  manifest = cluster.manifest;
  caCert = await readFile(manifest.ca_cert);
  rootToken = (await readFile(manifest.root_token_file, 'utf8')).trim();
  share = (await readFile(manifest.unseal_share_file, 'utf8')).trim();
  for (const node of manifest.nodes) {
    pids.set(node.id, node.pid);
    baseConfigs.set(node.id, await readFile(node.config, 'utf8'));
  }
}, 300_000);

afterAll(async () => {
  for (const child of restarted) {
    child.kill('SIGKILL');
  }
  cluster?.kill();
  await cluster?.allExited();
  await rm(root, { recursive: true, force: true });
  token?.cleanup();
});

describe('seal migration in a running cluster', () => {
  it('moves a three-node cluster Shamir → PKCS#11 → Shamir node by node under load, with no failed request and no lost write', async () => {
    const addresses = manifest.nodes.map((n) => n.api_address);
    const acked: string[] = [];
    const failures: string[] = [];
    let stopLoad = false;
    // One writer per node: each starts on another node, so writes go through all three.
    const writer = async (first: number): Promise<void> => {
      const rotated = addresses.slice(first).concat(addresses.slice(0, first));
      const client = new CofferClient({ addresses: rotated, caCert }).withToken(rootToken);
      for (let n = 0; !stopLoad; n++) {
        const key = `moving/w${String(first)}-${String(n)}`;
        try {
          await client.kv.put({ mount: 'secret', path: key, data: { n } });
          acked.push(key);
        } catch (error) {
          failures.push((error as { code?: string }).code ?? 'unknown');
        }
      }
      client.close();
    };
    const load = [0, 1, 2].map(writer);

    // 1. The target seal goes into every node's config: a rolling restart, unsealed by hand.
    for (const id of await restartOrder()) {
      await writeConfig(id, `seal_migration_target: ${pkcs11Section()}\n`);
      await restart(id, [share]);
    }
    expect(failures).toEqual([]);

    // 2. Migrate through the CLI on a standby, which forwards to the active node.
    const standby = (await restartOrder())[0] ?? 1;
    const toHsm = await migrate(
      standby,
      ['--type', 'pkcs11', '--generate-hsm-key', '--key-shares', '3', '--key-threshold', '2'],
      [share],
    );
    const recovery = toHsm['recovery_keys'] as string[];
    expect(toHsm['seal_type']).toBe('pkcs11');
    expect(recovery).toHaveLength(3);
    await untilStored('pkcs11');
    // Still configured with Shamir, every node serves and says what is pending.
    for (const id of [1, 2, 3]) {
      expect(await sealStatus(id)).toMatchObject({
        sealed: false,
        type: 'shamir',
        stored_type: 'pkcs11',
        seal_migration: 'config_differs',
      });
    }
    expect(await coffer(standby, ['status'])).toContain('Stored Seal Type');

    // 3. Node by node: restarted with the PKCS#11 seal, each unseals itself (no share given).
    for (const id of await restartOrder()) {
      await writeConfig(id, `seal: ${pkcs11Section()}\n`);
      await restart(id, []);
      expect(await sealStatus(id)).toMatchObject({
        sealed: false,
        type: 'pkcs11',
        stored_type: 'pkcs11',
        seal_migration: 'none',
      });
    }
    expect(failures).toEqual([]);

    // 4. Back to Shamir with two of the recovery shares; each node restarted and unsealed.
    const toShamir = await migrate(
      (await restartOrder())[0] ?? 1,
      ['--type', 'shamir', '--key-shares', '3', '--key-threshold', '2'],
      recovery.slice(0, 2),
    );
    const unsealKeys = toShamir['keys'] as string[];
    expect(unsealKeys).toHaveLength(3);
    await untilStored('shamir');
    for (const id of await restartOrder()) {
      await writeConfig(id, '');
      await restart(id, unsealKeys.slice(1, 3));
      expect(await sealStatus(id)).toMatchObject({ type: 'shamir', seal_migration: 'none' });
    }

    stopLoad = true;
    await Promise.all(load);
    expect(failures).toEqual([]);
    expect(acked.length).toBeGreaterThan(0);
    const every = new CofferClient({ addresses, caCert }).withToken(rootToken);
    let missingOrTwice = 0;
    for (let start = 0; start < acked.length; start += 32) {
      const reads = await Promise.all(
        acked.slice(start, start + 32).map((key) => every.kv.get({ mount: 'secret', path: key })),
      );
      for (const read of reads) {
        const version = (read.data['metadata'] as { version?: number } | undefined)?.version;
        missingOrTwice += version === 1 ? 0 : 1;
      }
    }
    every.close();
    expect(missingOrTwice).toBe(0);

    const secrets = [token?.userPin ?? '', share, ...recovery, ...unsealKeys];
    for (const node of manifest.nodes) {
      const log = await readFile(node.log, 'utf8');
      expect(log).toContain('node_unsealed');
      for (const secret of secrets) {
        expect(log).not.toContain(secret);
      }
    }
    console.log(
      `seal migration node by node: ${String(acked.length)} acknowledged writes, none failed`,
    );
  }, 600_000);
});
