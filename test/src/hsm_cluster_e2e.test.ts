/**
 * Goal: auto-unseal nodes join and unseal with no human (issue 9 item 3). Three `coffer server`
 * processes with a PKCS#11 seal on one SoftHSM2 token (standing in for a network HSM that every
 * node reaches): node 1 initializes with a wrapping key generated in the token and recovery
 * shares; nodes 2 and 3 start with a join token file and nothing else, join, take in the
 * cluster's state while sealed, unseal themselves through the HSM and become voters. A value
 * written through one node reads back through the others, and after a restart each node unseals
 * itself again. No node log holds the PIN, a recovery share, the root token or the value.
 * Method: the token has its own SOFTHSM2_CONF and directory, its slot found by label; each node
 * listens on free loopback ports; every wait polls a condition with a deadline.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createSelfSignedTls, freeLoopbackPorts, writeSecretFile } from '@coffer/api';
import { CofferClient } from '@coffer/client';
import { createSoftHsmToken, softHsmLibraryPath, type SoftHsmToken } from '@coffer/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  cleanEnv,
  processDeadlineMs,
  startCofferServer,
  waitFor,
  type ServerProcess,
} from './coffer_processes.ts';

const canary = 'canary-hsm-cluster-5b0c27';

interface HsmNode {
  readonly id: number;
  readonly apiAddress: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly joinTokenFile: string;
  server?: ServerProcess;
}

let dir = '';
let token: SoftHsmToken | undefined;
let caCert: Buffer;
const nodes: HsmNode[] = [];

function serverEnv(): NodeJS.ProcessEnv {
  return cleanEnv(dir, { SOFTHSM2_CONF: token?.confPath ?? '' });
}

function clientOf(node: HsmNode, rootToken?: string): CofferClient {
  const client = new CofferClient({ address: node.apiAddress, caCert, deadlineMs: 10_000 });
  return rootToken === undefined ? client : client.withToken(rootToken);
}

async function unsealedAndCaughtUp(node: HsmNode, rootToken: string): Promise<boolean> {
  const client = clientOf(node, rootToken);
  try {
    if ((await client.sys.sealStatus()).data['sealed'] !== false) {
      return false;
    }
    const seen = (await client.logical.read('sys/leader')).data;
    return (
      Number(seen['leader_id']) > 0 &&
      Number(seen['raft_applied_index']) >= Number(seen['raft_committed_index'])
    );
  } finally {
    client.close();
  }
}

beforeAll(async () => {
  token = createSoftHsmToken('coffer-cluster-e2e');
  dir = await mkdtemp(join(tmpdir(), 'coffer-hsm-cluster-'));
  const tls = await createSelfSignedTls({ hosts: ['localhost', '127.0.0.1'] });
  caCert = Buffer.from(tls.certPem);
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, tls.certPem);
  await writeFile(join(dir, 'key.pem'), tls.keyPem, { mode: 0o600 });
  const listener = { tls_cert_file: caFile, tls_key_file: join(dir, 'key.pem') };
  const ports = await freeLoopbackPorts(9);
  for (const id of [1, 2, 3]) {
    const [grpc, http, cluster] = ports.slice(3 * (id - 1), 3 * id).map((p) => `127.0.0.1:${p}`);
    const node: HsmNode = {
      id,
      apiAddress: grpc ?? '',
      configFile: join(dir, `node-${String(id)}.json`),
      logFile: join(dir, `node-${String(id)}.log`),
      joinTokenFile: join(dir, `node-${String(id)}.join-token`),
    };
    const config = {
      node_id: id,
      storage: { path: join(dir, `data-${String(id)}`) },
      listeners: {
        grpc: { address: grpc, ...listener },
        http: { address: http, ...listener },
      },
      cluster: {
        address: cluster,
        server_stabilization_time_ms: 1000,
        ...(id === 1 ? {} : { join_token_file: node.joinTokenFile }),
      },
      seal: {
        type: 'pkcs11',
        library: softHsmLibraryPath,
        token_label: token.label,
        pin_file: token.pinFile,
        key_label: 'coffer-cluster-wrap',
      },
      log: { file: node.logFile },
    };
    await writeFile(node.configFile, JSON.stringify(config));
    nodes.push(node);
  }
}, processDeadlineMs);

afterAll(async () => {
  for (const node of nodes) {
    await node.server?.stop();
  }
  await rm(dir, { recursive: true, force: true });
  token?.cleanup();
});

describe('a cluster of HSM-sealed nodes', () => {
  it('joins and unseals nodes with no human, and each unseals itself after a restart', async () => {
    const [first, ...joiners] = nodes as [HsmNode, HsmNode, HsmNode];
    first.server = await startCofferServer(first.configFile, serverEnv());
    const bootstrap = clientOf(first);
    const init = await bootstrap.sys.init({
      secretShares: 3,
      secretThreshold: 2,
      generateHsmKey: true,
    });
    bootstrap.close();
    const rootToken = String(init.data['root_token']);
    const recoveryShares = init.data['recovery_keys'] as string[];
    expect(recoveryShares).toHaveLength(3);
    await waitFor('node 1 to be active', () => unsealedAndCaughtUp(first, rootToken));
    const admin = clientOf(first, rootToken);
    await admin.mounts.enableSecrets({ path: 'secret', type: 'kv' });

    // The joiners get a join token file and nothing else: no share, no unseal call.
    for (const node of joiners) {
      const joinToken = String(
        (await admin.logical.write('sys/storage/raft/join-token', {})).data['join_token'],
      );
      await writeSecretFile(node.joinTokenFile, joinToken);
      node.server = await startCofferServer(node.configFile, serverEnv());
    }
    for (const node of joiners) {
      await waitFor(`node ${String(node.id)} to unseal itself`, () =>
        unsealedAndCaughtUp(node, rootToken),
      );
    }
    await waitFor('three voters', async () => {
      const servers = (await admin.logical.read('sys/storage/raft/configuration')).data[
        'servers'
      ] as readonly { voter: boolean }[];
      return servers.filter((server) => server.voter).length === 3;
    });
    const termOf = async (node: HsmNode): Promise<number> => {
      const client = clientOf(node, rootToken);
      try {
        return Number((await client.logical.read('sys/leader')).data['raft_term']);
      } finally {
        client.close();
      }
    };
    const termFormed = await termOf(first);
    const second = clientOf(joiners[0], rootToken);
    await second.kv.put({ mount: 'secret', path: 'app', data: { value: canary } });
    const third = clientOf(joiners[1], rootToken);
    const read = await third.kv.get({ mount: 'secret', path: 'app' });
    expect((read.data['data'] as Record<string, string>)['value']).toBe(canary);
    for (const client of [admin, second, third]) {
      client.close();
    }

    // A restart of every node, one at a time: each unseals itself through the HSM.
    for (const node of nodes) {
      expect(await node.server?.stop()).toBe(0);
      node.server = await startCofferServer(node.configFile, serverEnv());
      await waitFor(`node ${String(node.id)} to unseal itself after a restart`, () =>
        unsealedAndCaughtUp(node, rootToken),
      );
    }
    const again = clientOf(first, rootToken);
    const after = await again.kv.get({ mount: 'secret', path: 'app' });
    expect((after.data['data'] as Record<string, string>)['value']).toBe(canary);
    again.close();

    console.log(
      `HSM nodes joined and restarted with no human; leader changes seen (terms advanced): ${String((await termOf(first)) - termFormed)}`,
    );
    for (const node of nodes) {
      const log = await readFile(node.logFile, 'utf8');
      expect(log).toContain('node_unsealed');
      if (node.id !== 1) {
        expect(log).toContain('joined_node_auto_unsealing');
      }
      for (const secret of [canary, rootToken, token?.userPin ?? '', ...recoveryShares]) {
        expect(log).not.toContain(secret);
      }
    }
  }, 240_000);
});
