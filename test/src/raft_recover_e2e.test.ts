/**
 * Goal: `coffer operator raft recover` brings back a cluster that lost quorum for good. Three
 * node processes take acknowledged writes; two are SIGKILLed for good (the leader among them)
 * and the third is stopped. While it still runs, recover refuses its data directory
 * (COFFER_CORE_DATA_DIR_IN_USE); bad peers files are refused with COFFER_CORE_PEERS_INVALID
 * naming the field, and a dry run reports; none of them changes the node's Raft log. Recovered
 * with a peers file naming only itself, the survivor starts, is unsealed the normal way, becomes
 * the active node of a one-voter cluster, serves every acknowledged write and takes new ones.
 * Method: `DevCluster` starts three real `coffer server` processes on loopback; recover runs as
 * a real `coffer` CLI process; the share and the root token travel in files and the client
 * library, never in argv or env; every wait polls a condition with a deadline.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DevCluster, loadServerConfig, type DevClusterManifest } from '@coffer/api';
import { CofferClient } from '@coffer/client';
import { asIndex } from '@coffer/raft';
import { LevelLogStore } from '@coffer/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  alive,
  cleanEnv,
  cofferCommand,
  runCoffer,
  startCofferServer,
  waitFor,
  type Ran,
  type ServerProcess,
} from './coffer_processes.ts';

let root = '';
let cluster: DevCluster | undefined;
let manifest: DevClusterManifest;
let caCert: Buffer;
let rootToken = '';
let share = '';
let restarted: ServerProcess | undefined;

type ManifestNode = DevClusterManifest['nodes'][number];

function nodeOf(id: number): ManifestNode {
  const node = manifest.nodes.find((n) => n.id === id);
  if (node === undefined) {
    throw new Error(`no node ${String(id)}`);
  }
  return node;
}

function clientOf(id: number): CofferClient {
  return new CofferClient({ address: nodeOf(id).api_address, caCert }).withToken(rootToken);
}

async function leaderData(id: number): Promise<Record<string, unknown>> {
  const client = clientOf(id);
  try {
    return (await client.logical.read('sys/leader')).data;
  } finally {
    client.close();
  }
}

async function killAndWait(pid: number, signal: NodeJS.Signals): Promise<void> {
  process.kill(pid, signal);
  await waitFor(`process ${String(pid)} to exit`, () => Promise.resolve(!alive(pid)));
}

/** The survivor's Raft log as a restart would read it: membership, hard state and entries. */
async function raftImage(dataDir: string): Promise<string> {
  const log = await LevelLogStore.open(join(dataDir, 'log'));
  try {
    const entries = log.entries(log.firstIndex(), asIndex(log.lastIndex() + 1), 1 << 30);
    return JSON.stringify({
      initial: log.initialState(),
      first: log.firstIndex(),
      entries: entries.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]),
    });
  } finally {
    await log.close();
  }
}

function recover(config: string, peersFile: string, ...extra: string[]): Promise<Ran> {
  return runCoffer(
    ['operator', 'raft', 'recover', '--config', config, '--peers', peersFile, ...extra],
    {
      env: cleanEnv(root),
    },
  );
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-recover-'));
  cluster = await DevCluster.start({
    dir: join(root, 'cluster'),
    nodeCount: 3,
    command: cofferCommand,
    env: cleanEnv(root),
  });
  manifest = cluster.manifest;
  caCert = await readFile(manifest.ca_cert);
  rootToken = (await readFile(manifest.root_token_file, 'utf8')).trim();
  share = (await readFile(manifest.unseal_share_file, 'utf8')).trim();
}, 120_000);

afterAll(async () => {
  restarted?.child.kill('SIGKILL');
  cluster?.kill();
  await cluster?.allExited();
  await rm(root, { recursive: true, force: true });
});

describe('coffer operator raft recover', () => {
  it('makes the survivor of a cluster that lost quorum a cluster of one that serves every acknowledged write', async () => {
    const addresses = manifest.nodes.map((n) => n.api_address);
    const everyNode = new CofferClient({ addresses, caCert }).withToken(rootToken);
    await waitFor('three voters', async () => {
      const servers = (await everyNode.logical.read('sys/storage/raft/configuration')).data[
        'servers'
      ] as readonly { voter: boolean }[];
      return servers.filter((s) => s.voter).length === 3;
    });
    const acked: string[] = [];
    for (let i = 0; i < 20; i++) {
      await everyNode.kv.put({
        mount: 'secret',
        path: `before/k${String(i)}`,
        data: { v: `v${String(i)}` },
      });
      acked.push(`before/k${String(i)}`);
    }
    everyNode.close();

    // The survivor is a standby that applied everything the leader committed.
    const leaderId = Number((await leaderData(manifest.nodes[0]?.id ?? 1))['leader_id']);
    const survivor = manifest.nodes.find((n) => n.id !== leaderId) as ManifestNode;
    const lost = manifest.nodes.filter((n) => n.id !== survivor.id);
    const committed = Number((await leaderData(leaderId))['raft_committed_index']);
    await waitFor('the survivor to apply every acknowledged write', async () => {
      return Number((await leaderData(survivor.id))['raft_applied_index']) >= committed;
    });
    for (const node of lost) {
      await killAndWait(node.pid, 'SIGKILL');
    }

    const { storagePath } = await loadServerConfig(survivor.config);
    const peers = (name: string, text: string): Promise<string> => {
      const file = join(root, name);
      return writeFile(file, text).then(() => file);
    };
    const good = await peers('peers.json', JSON.stringify([{ id: survivor.id }]));

    // A running server holds the data directory: refused, offline only.
    const running = await recover(survivor.config, good);
    expect(running.code).toBe(1);
    expect(running.stderr).toContain('COFFER_CORE_DATA_DIR_IN_USE');
    await killAndWait(survivor.pid, 'SIGTERM');

    const before = await raftImage(storagePath);
    const bad: readonly [string, string, string][] = [
      ['not-json.json', '[{"id": 1', 'peers: expected JSON'],
      ['empty.json', '[]', 'peers: expected at least one peer'],
      ['string-id.json', '[{"id": "node1"}]', 'peers[0].id: expected an integer'],
      [
        'duplicate.json',
        JSON.stringify([{ id: survivor.id }, { id: survivor.id }]),
        'peers[1].id: duplicate',
      ],
      ['not-self.json', JSON.stringify([{ id: lost[0]?.id }]), "this node's own id"],
      [
        'stranger.json',
        JSON.stringify([{ id: survivor.id }, { id: 9 }]),
        'peers[1].id: node 9 is not a member',
      ],
    ];
    for (const [name, text, expected] of bad) {
      const ran = await recover(survivor.config, await peers(name, text));
      expect(ran.code, `${name}: ${ran.stderr}`).toBe(1);
      expect(ran.stderr).toContain('COFFER_CORE_PEERS_INVALID');
      expect(ran.stderr).toContain(expected);
    }
    const dry = await recover(survivor.config, good, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('Dry run, nothing written');
    expect(await raftImage(storagePath)).toBe(before);

    const ran = await recover(survivor.config, good);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stderr).toContain('WARNING');
    expect(ran.stdout).toContain(`After:  voters ${String(survivor.id)}; non-voters none`);

    restarted = await startCofferServer(survivor.config, cleanEnv(root));
    const client = clientOf(survivor.id);
    try {
      await client.sys.unseal({ key: share });
      await waitFor('the survivor to be the active node', async () => {
        return (await leaderData(survivor.id))['is_self'] === true;
      });
      const servers = (await client.logical.read('sys/storage/raft/configuration')).data[
        'servers'
      ] as readonly { node_id: unknown; voter: boolean }[];
      expect(servers.map((s) => [String(s.node_id), s.voter])).toEqual([
        [String(survivor.id), true],
      ]);
      for (const [i, path] of acked.entries()) {
        const read = await client.kv.get({ mount: 'secret', path });
        expect(read.data['data']).toEqual({ v: `v${String(i)}` });
      }
      for (let i = 0; i < 5; i++) {
        await client.kv.put({ mount: 'secret', path: `after/k${String(i)}`, data: { v: 'new' } });
      }
      expect((await client.kv.get({ mount: 'secret', path: 'after/k4' })).data['data']).toEqual({
        v: 'new',
      });
    } finally {
      client.close();
    }
  }, 240_000);
});
