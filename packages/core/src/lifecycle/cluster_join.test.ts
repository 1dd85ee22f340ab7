/**
 * Goal: a fresh node joins a running cluster with a one-time token: the leader admits it as a
 * learner with a certificate for the key the joiner made; the joiner takes in the state while
 * sealed (seal records and keyring included) and unseals with the cluster's shares. A token
 * works once, expires, and a request or grant that does not authenticate is refused.
 * Method: two CofferNodes on real LevelDB over the in-memory network, the manual clock moved
 * by the harness; the join messages go through the lifecycle endpoint as JSON, as on the wire.
 */
import { X509Certificate } from 'node:crypto';

import { InMemoryNetwork, ManualClock } from '@coffer/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { JoinGrant } from '../cluster/cluster_join.ts';
import { acceptGrant, prepareJoin, type PendingJoin } from '../cluster/joiner.ts';
import { CoreErrorCode } from '../errors.ts';
import { Operation, type CoreResponse } from '../router/request.ts';
import type { CofferNode } from './coffer_node.ts';
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
const shamir = { type: 'shamir' } as const;
const self2 = { nodeId: 2, clusterAddress: '127.0.0.1:18202', apiAddress: '127.0.0.1:18002' };

function ok(response: CoreResponse): Record<string, unknown> {
  if (!response.ok) {
    throw new Error(`${response.code}: ${response.message}`);
  }
  return response.data ?? {};
}

describe('joining a running cluster', () => {
  let leader: CofferNode;
  let joiner: CofferNode;
  let rootToken = '';
  let shares: readonly string[] = [];

  const newToken = async (): Promise<string> =>
    ok(
      await drive(
        harness,
        leader.handle({
          operation: Operation.update,
          path: 'sys/storage/raft/join-token',
          token: rootToken,
        }),
      ),
    )['join_token'] as string;

  const ask = (pending: PendingJoin, request = pending.request): Promise<CoreResponse> =>
    drive(
      harness,
      leader.handle({
        operation: Operation.update,
        path: 'sys/storage/raft/bootstrap/join',
        data: { request: JSON.stringify(request) },
      }),
    );

  beforeAll(async () => {
    Object.assign(harness, { root: await tempRoot() });
    const leaderOptions = singleNodeOptions(harness, { dir: 'a', seal: shamir, id: 1 });
    leader = await openNode(harness, {
      ...leaderOptions,
      // NB: a short log, so the joiner can only catch up by snapshot, which it must verify
      // while still sealed, with the snapshot key of the grant.
      raft: { ...leaderOptions.raft, logEntriesMax: 16 },
      snapshotKeepEntries: 4,
      cluster: {
        advertise: { clusterAddress: '127.0.0.1:18201', apiAddress: '127.0.0.1:18001' },
        // NB: no promotion here: a second voter would make the clock jumps below elections.
        autopilot: { stabilizationMs: Number.MAX_SAFE_INTEGER },
      },
    });
    const init = await drive(harness, leader.init({ shares: 3, threshold: 2 }));
    rootToken = init.rootToken ?? '';
    shares = init.unsealShares;
    await driveUntil(harness, () => leader.clusterIdentity !== undefined);
    await drive(
      harness,
      leader.handle({
        operation: Operation.update,
        path: 'sys/mounts/secret',
        token: rootToken,
        data: { type: 'kv', options: { version: '2' } },
      }),
    );
    for (let i = 0; i < 40; i++) {
      ok(
        await drive(
          harness,
          leader.handle({
            operation: Operation.create,
            path: `secret/data/before-join-${i}`,
            token: rootToken,
            data: { data: { value: `v${i}` } },
          }),
        ),
      );
    }
    joiner = await openNode(harness, {
      ...singleNodeOptions(harness, { dir: 'b', seal: shamir, id: 2 }),
      awaitInitOrJoin: true,
    });
  });

  afterAll(async () => {
    await closeOpenedNodes();
    await removeRoot(harness.root);
  });

  it('a fresh node awaiting init or join runs no Raft of its own', () => {
    expect(joiner.status()).toMatchObject({ initialized: false, raftRunning: false });
  });

  it('refuses a request whose MAC does not match, and keeps the token usable', async () => {
    const pending = prepareJoin(await newToken(), self2);
    const forged = { ...pending.request, nodeId: 3 };
    const refused = await ask(pending, forged);
    expect(refused).toMatchObject({ ok: false, code: CoreErrorCode.joinRefused });
    expect(ok(await ask(pending))['grant']).toEqual(expect.any(String));
  });

  it('admits the joiner as a learner, which takes in the state sealed and unseals with the shares', async () => {
    const pending = prepareJoin(await newToken(), self2);
    const grant = JSON.parse(ok(await ask(pending))['grant'] as string) as JoinGrant;
    const accepted = acceptGrant(pending, grant);
    const cert = new X509Certificate(accepted.identity.certPem);
    expect(cert.subjectAltName).toBe(`URI:coffer://${grant.clusterId}/node/2`);
    expect(accepted.learners).toContain(2);
    expect(accepted.members).toContainEqual({ nodeId: 1, ...leaderAddresses() });

    await drive(harness, joiner.membership.join(accepted));
    // The state comes by snapshot (the leader's log was compacted long before the join).
    await driveUntil(harness, () => (joiner.raftNode?.raw.status().applied ?? 0) > 40);
    expect(joiner.status()).toMatchObject({ initialized: true, sealed: true, raftRunning: true });
    expect(joiner.raftNode?.raw.raft.log.firstIndex()).toBeGreaterThan(40);
    expect(joiner.clusterIdentity?.material().certPem).toBe(accepted.identity.certPem);
    for (const share of shares.slice(0, 2)) {
      await drive(harness, joiner.submitUnsealShare(share));
    }
    expect(joiner.status().sealed).toBe(false);
    // Unsealed, it issues itself a certificate from the CA in its replica.
    await driveUntil(
      harness,
      () => joiner.clusterIdentity?.material().certPem !== accepted.identity.certPem,
    );
    const peers = leader.membership.peers();
    expect(peers).toContainEqual(
      expect.objectContaining({ nodeId: 2, voter: false, apiAddress: self2.apiAddress }),
    );
  });

  it('an operator promotes, demotes and removes a member; the last voter stays', async () => {
    const change = (path: string, id: number): Promise<CoreResponse> =>
      drive(
        harness,
        leader.handle({
          operation: Operation.update,
          path: `sys/storage/raft/${path}`,
          token: rootToken,
          data: { server_id: String(id) },
        }),
      );
    ok(await change('promote', 2));
    expect(leader.raftNode?.raw.status().confState.voters).toEqual([1, 2]);
    ok(await change('demote', 2));
    expect(leader.raftNode?.raw.status().confState).toMatchObject({ voters: [1], learners: [2] });
    expect(leader.membership.mayPromote(2)).toBe(false);
    expect(await change('remove-peer', 1)).toMatchObject({
      ok: false,
      code: CoreErrorCode.invalidRequest,
    });
    expect(await change('remove-peer', 9)).toMatchObject({
      ok: false,
      code: CoreErrorCode.notFound,
    });
    ok(await change('remove-peer', 2));
    expect(leader.membership.peers().map((p) => p.nodeId)).toEqual([1]);
  });

  it('a token works once', async () => {
    const token = await newToken();
    const first = prepareJoin(token, { ...self2, nodeId: 4 });
    ok(await ask(first));
    const again = prepareJoin(token, { ...self2, nodeId: 5 });
    expect(await ask(again)).toMatchObject({ ok: false, code: CoreErrorCode.joinRefused });
  });

  it('refuses an expired token', async () => {
    const pending = prepareJoin(await newToken(), { ...self2, nodeId: 6 });
    harness.clock.advance(60 * 60 * 1000 + 1);
    await driveUntil(harness, () => leader.raftNode?.raw.status().softState.role === 'leader');
    expect(await ask(pending)).toMatchObject({ ok: false, code: CoreErrorCode.joinRefused });
  });

  it('a joiner refuses a grant that does not authenticate or does not answer its nonce', async () => {
    const pending = prepareJoin(await newToken(), { ...self2, nodeId: 7 });
    const grant = JSON.parse(ok(await ask(pending))['grant'] as string) as JoinGrant;
    expect(() => acceptGrant(pending, { ...grant, voters: [...grant.voters, 9] })).toThrow(
      expect.objectContaining({ code: CoreErrorCode.joinRefused }),
    );
    const other = prepareJoin(await newToken(), { ...self2, nodeId: 7 });
    expect(() => acceptGrant(other, grant)).toThrow(
      expect.objectContaining({ code: CoreErrorCode.joinRefused }),
    );
  });
});

function leaderAddresses(): { clusterAddress: string; apiAddress: string } {
  return { clusterAddress: '127.0.0.1:18201', apiAddress: '127.0.0.1:18001' };
}
