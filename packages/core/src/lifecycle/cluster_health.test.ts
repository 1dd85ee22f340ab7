/**
 * Goal: the active node reports the cluster's health as Vault's autopilot state does (every
 * member healthy, failure tolerance, last contacts) and `sys/ha-status` lists the nodes with
 * the active one; a member that stops answering turns unhealthy within the last-contact
 * threshold; dead-server cleanup removes a member silent past its threshold, but never below
 * the minimum quorum.
 * Method: four voters in one process on real LevelDB, the in-memory transport and a manual
 * clock (cluster_test_support.ts); a node "dies" by closing; time moves in 100 ms steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AutopilotState } from './autopilot_state.ts';
import type { CofferNode } from './coffer_node.ts';
import { openInProcessCluster, type InProcessCofferCluster } from './cluster_test_support.ts';
import { removeRoot } from './lifecycle_harness.ts';

let c: InProcessCofferCluster;
const closed = new Set<CofferNode>();

async function state(): Promise<AutopilotState> {
  const response = await c.ok(await c.leader(), {
    operation: 'read',
    path: 'sys/storage/raft/autopilot/state',
    token: c.rootToken,
  });
  return response.data as unknown as AutopilotState;
}

/** Moves the clock by ms in 100 ms steps, letting the nodes run between steps. */
async function advance(ms: number): Promise<void> {
  for (let done = 0; done < ms; done += 100) {
    c.harness.clock.advance(100);
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

async function kill(): Promise<string> {
  const leader = await c.leader();
  const victim = c.nodes.find((n) => n !== leader && !closed.has(n)) as CofferNode;
  closed.add(victim);
  const id = String(victim.raftNode?.id);
  await victim.close();
  return id;
}

beforeAll(async () => {
  c = await openInProcessCluster([1, 2, 3, 4], () => ({
    cluster: {
      autopilot: { deadServerCleanup: { lastContactThresholdMs: 60_000, minQuorum: 3 } },
    },
  }));
});

afterAll(async () => {
  for (const node of c.nodes.filter((n) => !closed.has(n))) {
    await node.close();
  }
  await removeRoot(c.harness.root);
});

describe('cluster health on the active node', () => {
  it('shows every member healthy, the failure tolerance and the active node', async () => {
    await advance(1000);
    const healthy = await state();
    expect(healthy).toMatchObject({ healthy: true, failure_tolerance: 1 });
    expect(healthy.voters).toHaveLength(4);
    const leaderId = healthy.leader;
    expect(healthy.servers[leaderId]).toMatchObject({ status: 'leader', healthy: true });
    for (const server of Object.values(healthy.servers)) {
      expect(server.last_contact_ms).toBeGreaterThanOrEqual(0);
      expect(server.last_contact_ms).toBeLessThan(10_000);
    }
    const ha = await c.ok(await c.leader(), {
      operation: 'read',
      path: 'sys/ha-status',
      token: c.rootToken,
    });
    const nodes = ha.data?.['nodes'] as readonly { node_id: string; active_node: boolean }[];
    expect(nodes).toHaveLength(4);
    expect(nodes.filter((n) => n.active_node).map((n) => n.node_id)).toEqual([leaderId]);
  });

  it('turns a silent member unhealthy, then removes it once dead, but never below the minimum quorum', async () => {
    const dead = await kill();
    await advance(11_000);
    const degraded = await state();
    expect(degraded.servers[dead]).toMatchObject({ healthy: false });
    expect(degraded).toMatchObject({ healthy: false, failure_tolerance: 0 });

    await advance(52_000);
    const cleaned = await state();
    expect(cleaned.voters).toHaveLength(3);
    expect(cleaned.voters).not.toContain(dead);
    expect(cleaned).toMatchObject({ healthy: true, failure_tolerance: 1 });

    const another = await kill();
    await advance(65_000);
    const kept = await state();
    expect(kept.voters).toHaveLength(3);
    expect(kept.voters).toContain(another);
    expect(kept.servers[another]).toMatchObject({ healthy: false });
  });
});
