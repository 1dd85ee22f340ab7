/**
 * Goal: under continuous load from clients that know every node, with 60 s node certificates:
 * the cluster CA rotates and the old one retires, every node renews its certificate, and no
 * request fails; a rolling restart of all three nodes
 * (SIGTERM, restart, unseal, one at a time) fails no request; a fourth node joins under load,
 * is promoted to voter and serves every acknowledged write; an old member removed under load
 * refuses to serve (also after a restart) and joins again with its data; then all four are
 * SIGKILLed at once and restarted, and every acknowledged write is there; no write applied
 * twice; and the clients' read, put and compare-and-set history of shared keys is linearizable (the simulation
 * issue's checker, raft/testing). Prints the leader changes seen.
 * Method: `DevCluster` starts three node processes on loopback; restarts spawn `coffer server
 * --config` again and unseal with the cluster's share; every wait polls a condition with a
 * deadline.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  DevCluster,
  planExtraNode,
  writeNodeConfig,
  writeSecretFile,
  type DevClusterManifest,
} from '@coffer/api';
import { CofferClient } from '@coffer/client';
import { checkOperations, describeResult, kvModel } from '@coffer/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  alive,
  cleanEnv,
  cofferCommand,
  spawnServer,
  waitFor,
  waitUntilCaughtUp,
  withServerOutput,
} from './coffer_processes.ts';
import { startKvHistory } from './kv_history.ts';

const command = cofferCommand;

let root = '';
let cluster: DevCluster | undefined;
let manifest: DevClusterManifest;
let caCert: Buffer;
let rootToken = '';
let share = '';
const pids = new Map<number, number>();
/** Every node's API address and config file: the dev cluster's three, and the one added. */
const nodes = new Map<number, { readonly apiAddress: string; readonly config: string }>();
const restarted: ChildProcess[] = [];

function nodeClient(id: number, deadlineMs?: number): CofferClient {
  return new CofferClient({
    address: nodes.get(id)?.apiAddress ?? '',
    caCert,
    ...(deadlineMs === undefined ? {} : { deadlineMs }),
  }).withToken(rootToken);
}

/**
 * Starts node id again from its config, unseals it, and (unless it was removed) waits until it
 * applied the leader's commit.
 */
async function restart(id: number, options: { readonly removed?: boolean } = {}): Promise<void> {
  const node = nodes.get(id);
  if (node === undefined) {
    throw new Error(`no node ${String(id)}`);
  }
  const server = spawnServer(node.config, { env: cleanEnv(root), command });
  restarted.push(server.child);
  pids.set(id, server.child.pid ?? 0);
  const client = nodeClient(id);
  try {
    await withServerOutput(server, async () => {
      // NB: a joiner is initialized once it took in the cluster's seal records.
      await waitFor(`node ${String(id)} to listen, initialized`, async () => {
        return (await client.sys.sealStatus()).data['initialized'] === true;
      });
      await client.sys.unseal({ key: share });
      if (options.removed !== true) {
        await waitUntilCaughtUp(`node ${String(id)} to catch up`, client);
      }
    });
  } finally {
    client.close();
  }
}

function fail(message: string): never {
  throw new Error(message);
}

async function stop(id: number, signal: NodeJS.Signals): Promise<void> {
  const pid = pids.get(id) ?? 0;
  process.kill(pid, signal);
  await waitFor(`node ${String(id)} to exit`, () => Promise.resolve(!alive(pid)));
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-chaos-'));
  cluster = await DevCluster.start({
    dir: join(root, 'cluster'),
    nodeCount: 3,
    command,
    env: cleanEnv(root),
    clusterSettings: { certificate_lifetime_seconds: 60 },
  });
  manifest = cluster.manifest;
  caCert = await readFile(manifest.ca_cert);
  rootToken = (await readFile(manifest.root_token_file, 'utf8')).trim();
  share = (await readFile(manifest.unseal_share_file, 'utf8')).trim();
  for (const node of manifest.nodes) {
    pids.set(node.id, node.pid);
    nodes.set(node.id, { apiAddress: node.api_address, config: node.config });
  }
}, 120_000);

afterAll(async () => {
  for (const child of restarted) {
    child.kill('SIGKILL');
  }
  cluster?.kill();
  await cluster?.allExited();
  await rm(root, { recursive: true, force: true });
});

describe('a cluster under load', () => {
  it('rotates the CA and renews certificates, survives a rolling restart, a fourth node, a removal and rejoin with no failed request, and a SIGKILL of every node with no lost write', async () => {
    const addresses = manifest.nodes.map((n) => n.api_address);
    const everyNode = new CofferClient({ addresses, caCert }).withToken(rootToken);
    const termBefore = Number((await everyNode.logical.read('sys/leader')).data['raft_term']);
    const acked: string[] = [];
    const failures: string[] = [];
    let stopLoad = false;

    // Four history clients on three shared keys (the checked history), and one writer of
    // unique keys (to find lost or duplicated writes).
    const shared = startKvHistory({
      count: 4,
      newClient: () => new CofferClient({ addresses, caCert }).withToken(rootToken),
    });
    const failed = (): string[] => [...failures, ...shared.failures];
    const uniqueWriter = async (): Promise<void> => {
      const client = new CofferClient({ addresses, caCert }).withToken(rootToken);
      for (let n = 0; !stopLoad; n++) {
        const key = `unique/u${String(n)}`;
        try {
          await client.kv.put({ mount: 'secret', path: key, data: { n } });
          acked.push(key);
        } catch (error) {
          failures.push((error as { code?: string }).code ?? 'unknown');
        }
      }
      client.close();
    };
    const load = uniqueWriter();

    // The cluster CA rotates under load: every node renews at once with the new CA, the
    // active node retires the old one a certificate lifetime (60 s) later, and meanwhile each
    // node's 60 s certificate renews again at 40 s. No request fails.
    await everyNode.logical.write('sys/storage/raft/rotate-ca', {});
    const renewals = (log: string): number => log.split('cluster_certificate_renewed').length - 1;
    await waitFor(
      'the old CA to retire, and every node to renew twice',
      async () => {
        const logs = await Promise.all(manifest.nodes.map((n) => readFile(n.log, 'utf8')));
        return (
          logs.some((log) => log.includes('cluster_ca_retired')) &&
          logs.every((log) => renewals(log) >= 2)
        );
      },
      120_000,
    );
    expect(failed()).toEqual([]);

    // A rolling restart: every node in turn, the leader last.
    const leaderId = Number((await everyNode.logical.read('sys/leader')).data['leader_id']);
    const order = [1, 2, 3].filter((id) => id !== leaderId).concat(leaderId);
    for (const id of order) {
      await stop(id, 'SIGTERM');
      await restart(id);
    }
    expect(failed()).toEqual([]);

    // Membership under load: a fourth node joins with a token, autopilot promotes it once it
    // has kept up for the stabilization time, and it serves what the others acknowledged.
    const addedToken = String(
      (await everyNode.logical.write('sys/storage/raft/join-token', {})).data['join_token'],
    );
    const added = await planExtraNode(cluster?.layout ?? fail('no dev cluster'), 4);
    await writeNodeConfig(cluster?.layout ?? fail('no dev cluster'), added);
    await writeSecretFile(added.joinTokenFile ?? '', addedToken);
    nodes.set(4, { apiAddress: added.grpcAddress, config: added.configFile });
    await restart(4);
    await waitFor('node 4 to be promoted to voter', async () => {
      const servers = (await everyNode.logical.read('sys/storage/raft/configuration')).data[
        'servers'
      ] as readonly { node_id: string; voter: boolean }[];
      return servers.filter((s) => s.voter).length === 4;
    });
    const lastAcked = acked.at(-1) ?? '';
    const fourth = nodeClient(4);
    expect((await fourth.kv.get({ mount: 'secret', path: lastAcked })).data['data']).toBeDefined();
    fourth.close();
    expect(failed()).toEqual([]);

    // An old member is removed, refuses to serve (also once restarted), and joins again with
    // one request and the data it holds.
    const leaderNow = Number((await everyNode.logical.read('sys/leader')).data['leader_id']);
    const removed = [1, 2, 3].find((id) => id !== leaderNow) ?? 0;
    await everyNode.logical.write('sys/storage/raft/remove-peer', { server_id: removed });
    const refusal = async (): Promise<string> => {
      // NB: a short deadline: until it knows, the node retries its read, and the poll must go on.
      const client = nodeClient(removed, 2000);
      try {
        return await client.kv.get({ mount: 'secret', path: 'shared/k0' }).then(
          () => 'served',
          (error: unknown) => (error as { code?: string }).code ?? 'unknown',
        );
      } finally {
        client.close();
      }
    };
    await waitFor(`node ${String(removed)} to refuse as removed`, async () => {
      return (await refusal()) === 'COFFER_CORE_REMOVED';
    });
    await stop(removed, 'SIGTERM');
    await restart(removed, { removed: true });
    await waitFor(`node ${String(removed)} to refuse as removed after a restart`, async () => {
      return (await refusal()) === 'COFFER_CORE_REMOVED';
    });
    const joinToken = String(
      (await everyNode.logical.write('sys/storage/raft/join-token', {})).data['join_token'],
    );
    const rejoining = nodeClient(removed);
    await rejoining.logical.write('sys/storage/raft/join', { join_token: joinToken });
    rejoining.close();
    await waitFor(`node ${String(removed)} to be a voter again`, async () => {
      const servers = (await everyNode.logical.read('sys/storage/raft/configuration')).data[
        'servers'
      ] as readonly { node_id: string; voter: boolean }[];
      return servers.some((s) => s.node_id === String(removed) && s.voter);
    });
    await waitFor(`node ${String(removed)} to serve again`, async () => {
      return (await refusal()) === 'served';
    });
    stopLoad = true;
    await Promise.all([load, shared.stop()]);
    expect(failed()).toEqual([]);
    expect(acked.length).toBeGreaterThan(0);

    // Every node dies at once; after the restart every acknowledged write is there, once.
    const everyId = [...nodes.keys()];
    for (const id of everyId) {
      process.kill(pids.get(id) ?? 0, 'SIGKILL');
    }
    for (const id of everyId) {
      await waitFor(`node ${String(id)} to die`, () => Promise.resolve(!alive(pids.get(id) ?? 0)));
    }
    await Promise.all(everyId.map((id) => restart(id)));
    let missingOrTwice = 0;
    for (let start = 0; start < acked.length; start += 32) {
      const reads = await Promise.all(
        acked
          .slice(start, start + 32)
          .map((key) => everyNode.kv.get({ mount: 'secret', path: key })),
      );
      for (const read of reads) {
        const version = (read.data['metadata'] as { version?: number } | undefined)?.version;
        missingOrTwice += version === 1 ? 0 : 1;
      }
    }
    expect(missingOrTwice).toBe(0);

    const verdict = checkOperations(kvModel, shared.history, { stepsMaxPerPartition: 5_000_000 });
    expect(verdict.verdict, describeResult(kvModel, verdict)).toBe('ok');
    const termAfter = Number((await everyNode.logical.read('sys/leader')).data['raft_term']);
    console.log(
      `rolling restart, a fourth node, removal and rejoin, SIGKILL of all: ${String(shared.history.length)} checked operations, ${String(acked.length)} unique writes, leader changes seen (terms advanced): ${String(termAfter - termBefore)}`,
    );
    everyNode.close();
  }, 420_000);
});
