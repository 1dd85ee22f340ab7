/**
 * Goal: a network partition of three real nodes: the minority (the old leader, alone) cannot
 * commit and says so, the majority elects a leader and keeps serving; after healing every node
 * converges on the majority's writes, a write the minority refused never appears, and a token
 * revoked on the majority side fails on every node, the healed one included. The cut-off node
 * answers NO_LEADER at once, and serves a read that asks for a stale one from its own state.
 * Clients that know every node read, put and compare-and-set shared keys throughout, and their
 * history is linearizable (the simulation issue's checker, raft/testing).
 * Method: `DevCluster` starts three node processes on loopback, each with its outbound
 * connections through its own CONNECT proxy (partition_proxy.ts): cutting the leader's proxy and
 * blocking the leader's cluster port in the others' is a symmetric partition. Clients use the
 * client library; every wait polls a condition with a deadline. Prints the leader changes seen
 * and what the isolated node answered.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DevCluster, type DevClusterManifest } from '@coffer/api';
import { CofferClient } from '@coffer/client';
import { checkOperations, describeResult, kvModel } from '@coffer/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cleanEnv, cofferCommand, waitFor } from './coffer_processes.ts';
import { startKvHistory } from './kv_history.ts';
import { PartitionProxy } from './partition_proxy.ts';

const command = cofferCommand;

let root = '';
let cluster: DevCluster | undefined;
const proxies = new Map<number, PartitionProxy>();
let manifest: DevClusterManifest;
let caCert: Buffer;
let rootToken = '';

function clientOf(ids: readonly number[], token = rootToken): CofferClient {
  const addresses = manifest.nodes.filter((n) => ids.includes(n.id)).map((n) => n.api_address);
  return new CofferClient({ addresses, caCert, deadlineMs: 5000 }).withToken(token);
}

async function codeOf(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => 'ok',
    (error: unknown) => (error as { code?: string }).code ?? 'unknown',
  );
}

async function valueAt(ids: readonly number[], path: string): Promise<unknown> {
  const client = clientOf(ids);
  try {
    const read = await client.kv.get({ mount: 'secret', path });
    return (read.data['data'] as Record<string, unknown> | undefined)?.['v'];
  } finally {
    client.close();
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-partition-'));
  for (const id of [1, 2, 3]) {
    proxies.set(id, await PartitionProxy.start());
  }
  cluster = await DevCluster.start({
    dir: join(root, 'cluster'),
    nodeCount: 3,
    command,
    // NB: no_grpc_proxy set (and matching nothing), so a no_proxy of the machine cannot bypass it.
    env: (id) =>
      cleanEnv(root, {
        grpc_proxy: proxies.get(id)?.url ?? '',
        no_grpc_proxy: 'proxy-bypass.invalid',
      }),
  });
  manifest = cluster.manifest;
  caCert = await readFile(manifest.ca_cert);
  rootToken = (await readFile(manifest.root_token_file, 'utf8')).trim();
}, 120_000);

afterAll(async () => {
  cluster?.kill();
  await cluster?.allExited();
  for (const proxy of proxies.values()) {
    await proxy.close();
  }
  await rm(root, { recursive: true, force: true });
});

describe('a partition of three nodes', () => {
  it('the minority cannot commit and says so, the majority serves, and all converge after healing', async () => {
    const all = [1, 2, 3];
    const everyNode = clientOf(all);
    const load = startKvHistory({ count: 3, newClient: () => clientOf(all) });
    await everyNode.kv.put({ mount: 'secret', path: 'before', data: { v: 'before' } });
    const created = await everyNode.auth.tokenCreate({ policies: ['default'], ttl: '1h' });
    const token = created.auth?.clientToken ?? '';
    const leader = await everyNode.logical.read('sys/leader');
    const termBefore = Number(leader.data['raft_term']);
    const minority = Number(leader.data['leader_id']);
    const majority = all.filter((id) => id !== minority);
    const minorityNode = manifest.nodes.find((n) => n.id === minority);
    if (minorityNode === undefined) {
      throw new Error('no leader');
    }

    // Cut the leader off, both ways.
    proxies.get(minority)?.isolate(true);
    for (const id of majority) {
      proxies.get(id)?.block(minorityNode.cluster_address, true);
    }

    const majorityClient = clientOf(majority);
    await waitFor('the majority to take a write', async () => {
      await majorityClient.kv.put({ mount: 'secret', path: 'during', data: { v: 'majority' } });
      return true;
    });
    await majorityClient.logical.write('auth/token/revoke', { token });
    const minorityClient = clientOf([minority]);
    // It says so: it no longer names a leader (CheckQuorum made it step down).
    await waitFor(`node ${String(minority)} to know it leads no quorum`, async () => {
      const seen = await minorityClient.logical.read('sys/leader');
      return seen.data['is_self'] === false && seen.data['leader_id'] !== minority;
    });
    const refused = await codeOf(
      minorityClient.kv.put({ mount: 'secret', path: 'refused', data: { v: 'minority' } }),
    );
    const staleRead = await codeOf(minorityClient.kv.get({ mount: 'secret', path: 'before' }));
    console.log(
      `the isolated node ${String(minority)} refused a write (${refused}) and a read (${staleRead})`,
    );
    expect(refused).toBe('COFFER_CORE_NO_LEADER');
    expect(staleRead).toBe('COFFER_CORE_NO_LEADER');
    // A read that asks for it is served stale from the cut-off node's applied state, says so,
    // and the option never covers a login or token endpoint.
    const stale = await minorityClient.kv.get(
      { mount: 'secret', path: 'before' },
      { consistency: 'stale' },
    );
    expect((stale.data['data'] as Record<string, unknown> | undefined)?.['v']).toBe('before');
    expect(stale.staleRead?.appliedIndex).toBeGreaterThan(0);
    expect(
      await codeOf(minorityClient.logical.read('auth/token/lookup-self', { consistency: 'stale' })),
    ).toBe('COFFER_CORE_STALE_READ_REFUSED');

    // Heal: the old leader catches up with the majority.
    proxies.get(minority)?.isolate(false);
    for (const id of majority) {
      proxies.get(id)?.block(minorityNode.cluster_address, false);
    }
    await waitFor(`node ${String(minority)} to serve the majority's write`, async () => {
      return (await valueAt([minority], 'during')) === 'majority';
    });
    // Every node converges, each answering at once. NB: a read on a node just healed may have
    // sent its ReadIndex request on a stream that was down; Raft asks again within 500 ms
    // (RaftNode readIndexRetryMs), well within the client's deadline.
    for (const id of all) {
      expect(await valueAt([id], 'before')).toBe('before');
      expect(await valueAt([id], 'during')).toBe('majority');
      expect(await codeOf(clientOf([id]).kv.get({ mount: 'secret', path: 'refused' }))).toBe(
        'COFFER_CORE_NOT_FOUND',
      );
      const lookup = clientOf([id], token).logical.read('auth/token/lookup-self');
      expect(await codeOf(lookup)).toBe('COFFER_CORE_PERMISSION_DENIED');
    }
    await load.stop();
    const verdict = checkOperations(kvModel, load.history, { stepsMaxPerPartition: 5_000_000 });
    expect(verdict.verdict, describeResult(kvModel, verdict)).toBe('ok');
    const termAfter = Number((await everyNode.logical.read('sys/leader')).data['raft_term']);
    console.log(
      `${String(load.history.length)} checked operations (${String(load.failures.length)} failed: ` +
        `${[...new Set(load.failures)].join(', ')}), leader changes seen (terms advanced): ` +
        String(termAfter - termBefore),
    );
    for (const client of [everyNode, majorityClient, minorityClient]) {
      client.close();
    }
  }, 120_000);
});
