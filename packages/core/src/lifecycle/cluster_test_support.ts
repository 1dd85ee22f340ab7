/**
 * Test support for cluster tests in one process: CofferNodes on real LevelDB in a temporary
 * directory, the in-memory transport and a manual clock; the first leader initializes, the
 * others unseal with the same shares; each node's `forward` sends to the current leader (as the
 * cluster channel does). Requests are driven on the manual clock (no sleeps).
 */
import { InMemoryNetwork, ManualClock } from '@coffer/raft/testing';

import { CoreErrorCode } from '../errors.ts';
import type { CoreRequest, CoreResponse, CoreSuccess } from '../router/request.ts';
import { CofferNode, type CofferNodeOptions } from './coffer_node.ts';
import {
  drive,
  driveUntil,
  singleNodeOptions,
  tempRoot,
  type Harness,
} from './lifecycle_harness.ts';

/** A running cluster in this process. */
export interface InProcessCofferCluster {
  readonly harness: Harness & { readonly clock: ManualClock; readonly network: InMemoryNetwork };
  readonly nodes: CofferNode[];
  readonly rootToken: string;
  /** The current leader (drives the clock until there is one among the open nodes). */
  leader(): Promise<CofferNode>;
  /** A node that is not the leader. */
  standby(): Promise<CofferNode>;
  /** Sends request to node, again while a new leader settles (as the client library does). */
  send(node: CofferNode, request: CoreRequest): Promise<CoreResponse>;
  /** send() that must succeed. */
  ok(node: CofferNode, request: CoreRequest): Promise<CoreSuccess>;
}

/**
 * Opens `ids.length` voters, initializes the cluster on the first leader, unseals the others
 * and mounts KV v2 at `secret/`. `extra` adds options per node (autopilot settings).
 */
export async function openInProcessCluster(
  ids: readonly number[],
  extra: (id: number) => Partial<CofferNodeOptions> = () => ({}),
): Promise<InProcessCofferCluster> {
  const clock = new ManualClock();
  const harness = { root: await tempRoot(), clock, network: new InMemoryNetwork() };
  const nodes: CofferNode[] = [];
  const isLeader = (n: CofferNode): boolean => n.raftNode?.raw.status().softState.role === 'leader';
  const leader = async (): Promise<CofferNode> => {
    await driveUntil(harness, () => nodes.some(isLeader));
    return nodes.find(isLeader) as CofferNode;
  };
  for (const id of ids) {
    nodes.push(
      await CofferNode.open({
        ...singleNodeOptions(harness, {
          dir: `n${id}`,
          id,
          voters: [...ids],
          seal: { type: 'shamir' },
        }),
        forward: async (request) => (await leader()).handle(request, { forwarded: true }),
        ...extra(id),
      }),
    );
  }
  const send = async (node: CofferNode, request: CoreRequest): Promise<CoreResponse> => {
    const retry: readonly string[] = [CoreErrorCode.notActive, CoreErrorCode.notReady];
    for (let attempt = 1; ; attempt++) {
      const response = await drive(harness, node.handle(request));
      if (response.ok || attempt >= 10 || !retry.includes(response.code)) {
        return response;
      }
    }
  };
  const ok = async (node: CofferNode, request: CoreRequest): Promise<CoreSuccess> => {
    const response = await send(node, request);
    if (!response.ok) {
      throw new Error(`${request.path}: ${response.code} ${response.message}`);
    }
    return response;
  };
  const first = await leader();
  const init = await drive(harness, first.init());
  const rootToken = init.rootToken ?? '';
  for (const node of nodes.filter((n) => n !== first)) {
    await driveUntil(harness, () => node.status().initialized);
    for (const share of init.unsealShares.slice(0, 3)) {
      await drive(harness, node.submitUnsealShare(share));
    }
  }
  await ok(first, {
    operation: 'update',
    path: 'sys/mounts/secret',
    token: rootToken,
    data: { type: 'kv', options: { version: '2' } },
  });
  return {
    harness,
    nodes,
    rootToken,
    leader,
    standby: async () => {
      const active = await leader();
      return nodes.find((n) => n !== active) as CofferNode;
    },
    send,
    ok,
  };
}
