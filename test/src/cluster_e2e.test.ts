/**
 * Goal: three `coffer server` processes form one cluster over mTLS on loopback: the first is
 * initialized, the others join with one-time tokens (retry_join from a token file), take in
 * the state sealed and unseal with the cluster's share; autopilot makes them voters; a standby
 * serves every request by forwarding it to the active node; after SIGKILL of the leader the
 * survivors elect a new one and keep serving; the killed node restarts, unseals and catches up.
 * A GraphQL subscription on a standby's HTTP listener receives the leader change of a
 * step-down, and a client that reconnects with its last index gets the next step-down's change
 * it missed, with the next index, and a lease revoked on the active node (issue 10 item 4).
 * The cluster port refuses a client without a certificate at the handshake.
 * Method: real processes, real LevelDB, real TLS sockets on 127.0.0.1; the CLI and the client
 * library as an operator and a service use them; every wait polls a condition with a deadline.
 */
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';

import { createSelfSignedTls } from '@coffer/api';
import { CofferClient } from '@coffer/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  cleanEnv,
  processDeadlineMs,
  runCoffer,
  startCofferServer,
  type Ran,
  type ServerProcess,
} from './coffer_processes.ts';
import { subscribeClusterEvents, type ClusterEventStream } from './graphql_events.ts';

interface Node {
  readonly id: number;
  readonly dir: string;
  readonly grpc: string;
  readonly cluster: string;
  process: ServerProcess | undefined;
}

const secretValue = 'canary-cluster-e2e-7d41';
let root = '';
let caFile = '';
let share = '';
let rootFile = '';
const nodes = new Map<number, Node>();
/** Each node's HTTP listener (GraphQL), `host:port`, as its last config named it. */
const httpAddresses = new Map<number, string>();

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

function node(id: number): Node {
  const found = nodes.get(id);
  if (found === undefined) {
    throw new Error(`no node ${id}`);
  }
  return found;
}

function coffer(id: number, args: readonly string[], stdin = ''): Promise<Ran> {
  const env = cleanEnv(root, { COFFER_ADDR: node(id).grpc, COFFER_CACERT: caFile });
  return runCoffer(args, { env, stdin });
}

async function ok(id: number, args: readonly string[], stdin = ''): Promise<string> {
  const ran = await coffer(id, args, stdin);
  if (ran.code !== 0) {
    throw new Error(`coffer ${args.join(' ')} on node ${id} exited ${ran.code}: ${ran.stderr}`);
  }
  return ran.stdout;
}

/** Polls `condition` every 100 ms until it holds, failing after `deadlineMs`. */
async function waitFor(
  what: string,
  condition: () => Promise<boolean>,
  deadlineMs = 30_000,
): Promise<void> {
  const until = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < until) {
    if (
      await condition().catch((error: unknown) => {
        last = error;
        return false;
      })
    ) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const why = last instanceof Error ? `: ${last.message}` : '';
  throw new Error(`timed out waiting for ${what}${why}`);
}

async function writeConfig(n: Node, joinTokenFile?: string): Promise<string> {
  const file = join(n.dir, 'coffer.yaml');
  const http = await freePort();
  httpAddresses.set(n.id, `127.0.0.1:${String(http)}`);
  await writeFile(
    file,
    [
      `node_id: ${n.id}`,
      'storage:',
      `  path: ${join(n.dir, 'data')}`,
      'listeners:',
      '  grpc:',
      `    address: ${n.grpc}`,
      `    tls_cert_file: ${caFile}`,
      `    tls_key_file: ${join(root, 'key.pem')}`,
      '  http:',
      `    address: 127.0.0.1:${http}`,
      'cluster:',
      `  address: ${n.cluster}`,
      '  server_stabilization_time_ms: 500',
      ...(joinTokenFile === undefined ? [] : [`  join_token_file: ${joinTokenFile}`]),
      'log:',
      `  file: ${join(n.dir, 'server.log')}`,
      '',
    ].join('\n'),
  );
  return file;
}

async function start(n: Node, joinTokenFile?: string): Promise<void> {
  const config = await writeConfig(n, joinTokenFile);
  n.process = await startCofferServer(config, cleanEnv(root));
}

async function status(id: number): Promise<Record<string, unknown>> {
  return JSON.parse((await coffer(id, ['status', '--format', 'json'])).stdout) as Record<
    string,
    unknown
  >;
}

async function peers(id: number): Promise<{ node_id: string; voter: boolean; leader: boolean }[]> {
  const listed = JSON.parse(
    await ok(id, ['operator', 'raft', 'list-peers', '--format', 'json', '--token-file', rootFile]),
  ) as { servers: { node_id: string; voter: boolean; leader: boolean }[] };
  return listed.servers;
}

/**
 * Steps the leader `from` down (through another node, which forwards it) until another node
 * leads; a step-down the leader cannot hand over yet is asked again after a while.
 */
async function stepDown(from: number): Promise<void> {
  const through = [1, 2, 3].find((id) => id !== from) ?? 0;
  const admin = client(through, await readFile(caFile), (await readFile(rootFile, 'utf8')).trim());
  let askedAt = 0;
  await waitFor(`a leader other than node ${String(from)}`, async () => {
    const now = Number((await admin.logical.read('sys/leader')).data['leader_id']);
    if (now !== from && now > 0) {
      return true;
    }
    if (Date.now() - askedAt > 5000) {
      askedAt = Date.now();
      await admin.logical.write('sys/step-down', {});
    }
    return false;
  });
  admin.close();
}

function client(id: number, caCert: Buffer, token: string): CofferClient {
  return new CofferClient({ address: node(id).grpc, caCert }).withToken(token);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-cluster-e2e-'));
  const tls = await createSelfSignedTls({ hosts: ['localhost', '127.0.0.1'] });
  caFile = join(root, 'ca.pem');
  await writeFile(caFile, tls.certPem);
  await writeFile(join(root, 'key.pem'), tls.keyPem, { mode: 0o600 });
  for (const id of [1, 2, 3]) {
    const dir = await mkdtemp(join(root, `node-${id}-`));
    nodes.set(id, {
      id,
      dir,
      grpc: `127.0.0.1:${await freePort()}`,
      cluster: `127.0.0.1:${await freePort()}`,
      process: undefined,
    });
  }
  await start(node(1));
}, processDeadlineMs);

afterAll(async () => {
  for (const n of nodes.values()) {
    await n.process?.stop();
  }
  await rm(root, { recursive: true, force: true });
});

describe('a three-node cluster of real processes', () => {
  it('forms by init and two joins, forwards from standbys, and survives SIGKILL of the leader', async () => {
    const init = JSON.parse(
      await ok(1, [
        'operator',
        'init',
        '--key-shares',
        '1',
        '--key-threshold',
        '1',
        '--format',
        'json',
      ]),
    ) as { keys: string[]; root_token: string };
    share = init.keys[0] ?? '';
    rootFile = join(root, 'root.token');
    await writeFile(rootFile, init.root_token, { mode: 0o600 });
    await ok(1, ['operator', 'unseal'], `${share}\n`);
    const asRoot = ['--token-file', rootFile];
    await waitFor('node 1 active', async () => (await status(1))['sealed'] === false);
    await ok(1, ['secrets', 'enable', '--path', 'secret', 'kv', ...asRoot]);
    await ok(1, ['kv', 'put', 'secret/app/db', `password=${secretValue}`, ...asRoot]);

    for (const id of [2, 3]) {
      const token = (await ok(1, ['operator', 'raft', 'join-token', ...asRoot])).trim();
      expect(token).toMatch(/^cjt1\./);
      const tokenFile = join(node(id).dir, 'join.token');
      await writeFile(tokenFile, token, { mode: 0o600 });
      await start(node(id), tokenFile);
    }
    for (const id of [2, 3]) {
      await waitFor(
        `node ${id} to take in the state`,
        async () => (await status(id))['initialized'] === true,
      );
      await ok(id, ['operator', 'unseal'], `${share}\n`);
    }
    await waitFor('three voters', async () => (await peers(1)).filter((p) => p.voter).length === 3);

    const caCert = await readFile(caFile);
    for (const id of [2, 3]) {
      const read = await client(id, caCert, init.root_token).kv.get({
        mount: 'secret',
        path: 'app/db',
      });
      expect(read.data['data']).toEqual({ password: secretValue });
    }
    await client(3, caCert, init.root_token).kv.put({
      mount: 'secret',
      path: 'app/from-standby',
      data: { written: 'through node 3' },
    });

    const leaderInfo = JSON.parse(
      await ok(2, ['read', 'sys/leader', '--format', 'json', ...asRoot]),
    ) as {
      data: { leader_address: string; is_self: boolean };
    };
    expect(leaderInfo.data).toMatchObject({ leader_address: node(1).grpc, is_self: false });

    // The leader dies without warning; the survivors elect another and keep serving a client
    // that knows every node's address.
    const leaderId = Number((await peers(1)).find((p) => p.leader)?.node_id);
    const termFormed = Number(
      (await client(leaderId, caCert, init.root_token).logical.read('sys/leader')).data[
        'raft_term'
      ],
    );
    const leader = node(leaderId);
    leader.process?.child.kill('SIGKILL');
    await leader.process?.stop();
    leader.process = undefined;
    const everyNode = new CofferClient({
      addresses: [1, 2, 3].map((id) => node(id).grpc),
      caCert,
    }).withToken(init.root_token);
    const killedAt = Date.now();
    await waitFor('a write after the leader died', async () => {
      await everyNode.kv.put({
        mount: 'secret',
        path: 'app/after-kill',
        data: { written: 'after the kill' },
      });
      return true;
    });
    const termAfter = Number((await everyNode.logical.read('sys/leader')).data['raft_term']);
    console.log(
      `writes resumed ${Date.now() - killedAt} ms after SIGKILL of node ${leaderId}; ` +
        `leader changes seen (terms advanced since the cluster formed): ${String(termAfter - termFormed)}`,
    );

    // The killed node restarts sealed, unseals, catches up and serves again.
    await start(leader);
    await ok(leaderId, ['operator', 'unseal'], `${share}\n`);
    await waitFor(`node ${leaderId} to serve the write made while it was down`, async () => {
      const read = await client(leaderId, caCert, init.root_token).kv.get({
        mount: 'secret',
        path: 'app/after-kill',
      });
      return (
        (read.data['data'] as Record<string, unknown> | undefined)?.['written'] === 'after the kill'
      );
    });
  }, 180_000);

  it('a GraphQL subscription on a standby gets the leader change of a step-down, and resumes from its last index', async () => {
    const rootToken = (await readFile(rootFile, 'utf8')).trim();
    const caCert = await readFile(caFile);
    const firstLeader = Number((await peers(1)).find((p) => p.leader)?.node_id);
    const standbyId = [1, 2, 3].find((id) => id !== firstLeader) ?? 0;
    const watch = (cursor: { after: number; epoch: string }): ClusterEventStream =>
      subscribeClusterEvents({
        address: httpAddresses.get(standbyId) ?? '',
        caPem: caCert,
        token: rootToken,
        ...cursor,
      });
    // NB: a read of sys/events without an index answers this node's epoch and last index.
    const now = (await client(standbyId, caCert, rootToken).logical.read('sys/events')).data;
    const epoch = String(now['epoch']);
    const first = watch({ after: Number(now['after']), epoch });
    await stepDown(firstLeader);
    const change = await first.waitForEvent(
      'the leader change of the step-down',
      (event) =>
        event.type === 'LEADER_CHANGE' && ![null, String(firstLeader)].includes(event.leaderId),
    );
    const seen = first.events();
    expect(seen.map((event) => event.index)).toEqual(
      seen.map((_, i) => Number(now['after']) + 1 + i),
    );
    expect(new Set(seen.map((event) => event.epoch))).toEqual(new Set([epoch]));
    first.close();

    // While no client listens, leadership moves again; the reconnecting client resumes after
    // the last index it saw and misses nothing.
    const lastIndex = Math.max(...seen.map((event) => event.index));
    const secondLeader = Number(change.leaderId);
    await stepDown(secondLeader);
    const resumed = watch({ after: lastIndex, epoch });
    await resumed.waitForEvent(
      'the leader change made while disconnected',
      (event) =>
        event.type === 'LEADER_CHANGE' && ![null, String(secondLeader)].includes(event.leaderId),
    );
    // A lease revoked on the active node is journaled by the standby too, as it applies it.
    const standby = client(standbyId, caCert, rootToken);
    const created = await standby.auth.tokenCreate({ policies: ['default'], ttl: '1h' });
    await standby.auth.tokenRevoke({ token: created.auth?.clientToken ?? '' });
    await resumed.waitForEvent('the lease revocation', (event) => event.type === 'LEASE_REVOKED');
    const missed = resumed.events();
    expect(missed.map((event) => event.index)).toEqual(missed.map((_, i) => lastIndex + 1 + i));
    resumed.close();
    for (const body of [first.body, resumed.body]) {
      expect(body).not.toContain(rootToken);
      expect(body).not.toContain(secretValue);
    }
  }, 90_000);

  it('a standby forwards logins with the real client address: a CIDR-bound secret_id is refused outside its range', async () => {
    const rootToken = (await readFile(rootFile, 'utf8')).trim();
    const caCert = await readFile(caFile);
    const leaderId = Number((await peers(1)).find((p) => p.leader)?.node_id);
    const standbyId = [1, 2, 3].find((id) => id !== leaderId) ?? 0;
    const admin = client(leaderId, caCert, rootToken);
    await admin.logical.write('sys/auth/approle', { type: 'approle' });
    const secretFor = async (
      role: string,
      cidrs: string[],
    ): Promise<{ roleId: string; secretId: string }> => {
      await admin.logical.write(`auth/approle/role/${role}`, {
        token_policies: ['default'],
        secret_id_bound_cidrs: cidrs,
      });
      const roleId = (await admin.logical.read(`auth/approle/role/${role}/role-id`)).data[
        'role_id'
      ];
      const secretId = (await admin.logical.write(`auth/approle/role/${role}/secret-id`, {})).data[
        'secret_id'
      ];
      return { roleId: String(roleId), secretId: String(secretId) };
    };
    const outside = await secretFor('elsewhere', ['10.0.0.0/8']);
    const inside = await secretFor('loopback', ['127.0.0.0/8']);
    const viaStandby = new CofferClient({ address: node(standbyId).grpc, caCert });
    const refused = await viaStandby.auth.appRoleLogin(outside).then(
      () => 'logged in',
      (error: unknown) => (error as { code?: string }).code,
    );
    expect(refused).toBe('COFFER_CORE_LOGIN_FAILED');
    const login = await viaStandby.auth.appRoleLogin(inside);
    expect(login.auth?.clientToken).toMatch(/^cfr\./);
    viaStandby.close();
  }, 60_000);

  it('a removed node learns it was removed and refuses to serve; the others go on; one command admits it again', async () => {
    const rootToken = (await readFile(rootFile, 'utf8')).trim();
    const caCert = await readFile(caFile);
    const leaderId = Number((await peers(1)).find((p) => p.leader)?.node_id);
    const removed = [1, 2, 3].find((id) => id !== leaderId) ?? 0;
    await ok(leaderId, [
      'operator',
      'raft',
      'remove-peer',
      String(removed),
      '--token-file',
      rootFile,
    ]);
    expect((await peers(leaderId)).map((p) => Number(p.node_id))).not.toContain(removed);
    await waitFor(`node ${removed} to say it was removed`, async () => {
      const refused = await client(removed, caCert, rootToken)
        .kv.get({ mount: 'secret', path: 'app/db' })
        .then(
          () => undefined,
          (error: unknown) => (error as { code?: string }).code,
        );
      return refused === 'COFFER_CORE_REMOVED';
    });
    const survivor = [1, 2, 3].find((id) => id !== removed && id !== leaderId) ?? 0;
    const read = await client(survivor, caCert, rootToken).kv.get({
      mount: 'secret',
      path: 'app/db',
    });
    expect(read.data['data']).toEqual({ password: secretValue });
    await client(survivor, caCert, rootToken).kv.put({
      mount: 'secret',
      path: 'app/while-removed',
      data: { written: 'while node was removed' },
    });

    // One command brings it back with the data it holds (no wiping): a new token, and join.
    const token = (
      await ok(leaderId, ['operator', 'raft', 'join-token', '--token-file', rootFile])
    ).trim();
    await ok(removed, ['operator', 'raft', 'join'], `${token}\n`);
    await waitFor(`node ${removed} to be a voter again`, async () =>
      (await peers(leaderId)).some((p) => Number(p.node_id) === removed && p.voter),
    );
    await waitFor(`node ${removed} to serve what was written while it was removed`, async () => {
      const caughtUp = await client(removed, caCert, rootToken).kv.get({
        mount: 'secret',
        path: 'app/while-removed',
      });
      return (
        (caughtUp.data['data'] as Record<string, unknown> | undefined)?.['written'] ===
        'while node was removed'
      );
    });
  }, 90_000);

  it('the cluster port refuses a client without a certificate at the handshake', async () => {
    const [host, port] = node(2).cluster.split(':');
    const socket = connect({ host, port: Number(port), rejectUnauthorized: false });
    const outcome = await new Promise<string>((resolve) => {
      socket.once('error', (error: Error) => {
        resolve(`error: ${error.message}`);
      });
      socket.once('close', () => {
        resolve('closed');
      });
      socket.once('data', () => {
        resolve('data');
      });
      socket.once('secureConnect', () => {
        socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
      });
    });
    socket.destroy();
    expect(outcome).not.toBe('data');
  });
});
