/**
 * Goal: through the whole stack, a write whose proposal times out (its outcome unknown) is
 * resent in the same client session with the same sequence number, applied exactly once, and
 * the resend is answered with the original result; every replica ends with the same state,
 * session table included.
 * Method: three nodes in one process on real LevelDB directories, the encoding in-memory
 * transport and a manual clock. The write is a keyring rotation: a check-and-set on the stored
 * keyring's version, which a second application would fail (COFFER_STORAGE_CAS_FAILED). The
 * leader is cut off from its peers, the rotation is proposed, time advances past the request
 * timeout (but not the election timeout), the network heals, and the log is inspected: two
 * entries carry the same (client, sequence), the first applied, the second answered from the
 * session with the same bytes.
 */
import { SecretKey } from '@coffer/core';
import type { Entry } from '@coffer/raft';
import type { StateMachine } from '@coffer/raft/node';
import { decodeEntryData } from '@coffer/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InProcessCluster, turn } from './in_process_cluster.ts';

const keyringPath = 'core/keyring';

interface Applied {
  readonly entry: Entry;
  readonly result: Uint8Array;
}

/** Records every entry applied and its result bytes, delegating to the real state machine. */
function recording(machine: StateMachine, applied: Applied[]): StateMachine {
  return {
    appliedIndex: () => machine.appliedIndex(),
    apply: async (entries) => {
      const results = await machine.apply(entries);
      entries.forEach((entry, i) => {
        applied.push({ entry, result: results[i] ?? new Uint8Array(0) });
      });
      return results;
    },
    snapshot: (metadata) => machine.snapshot(metadata),
    restore: (metadata, chunks) => machine.restore(metadata, chunks),
  };
}

/** The session requests a member applied, with their client, sequence and result bytes. */
function sessionRequests(applied: readonly Applied[]): {
  index: number;
  key: string;
  result: string;
}[] {
  return applied.flatMap(({ entry, result }) => {
    const decoded = entry.data.byteLength > 0 ? decodeEntryData(entry.data) : undefined;
    if (decoded?.ok !== true || decoded.kind !== 'request') {
      return [];
    }
    const key = `${decoded.request.clientId}/${decoded.request.sequence}`;
    return [{ index: entry.index, key, result: Buffer.from(result).toString('hex') }];
  });
}

describe('exactly-once writes', () => {
  const applied = new Map<number, Applied[]>();
  let cluster: InProcessCluster;
  let rootKey: SecretKey;

  beforeAll(async () => {
    cluster = await InProcessCluster.create({
      voters: [1, 2, 3],
      // Well below the election timeout (200 to 400 ms): a proposal times out while its leader leads.
      requestTimeoutMs: 50,
      electionTimeoutTicks: 20,
      wrapStateMachine: (id, machine) => {
        const list: Applied[] = [];
        applied.set(id, list);
        return recording(machine, list);
      },
    });
    rootKey = SecretKey.generate();
  });

  afterAll(async () => {
    rootKey.zero();
    await cluster.destroy();
  });

  it('SecureStore.rotate resent after a timeout is applied once and answered with the original result', async () => {
    for (const id of [1, 2, 3]) {
      await cluster.start(id);
    }
    const first = await cluster.bootstrap(rootKey);
    const firstApplied = applied.get(first.id) ?? [];
    await cluster.settle(first.secure.put('secret/data/a', new TextEncoder().encode('v1')));
    const termBefore = first.barrier.keyringStatus().term;
    const appliedBefore = firstApplied.length;

    // Cut the leader off and propose; time passes until the proposal times out and the
    // resend is in the leader's log (two new entries), well before any election timeout.
    const peers = [...cluster.members.keys()];
    const lastBefore = first.node.raw.raft.log.lastIndex();
    cluster.network.isolate(first.id, peers);
    const rotation = first.secure.rotate();
    rotation.catch(() => undefined);
    for (let step = 0; first.node.raw.raft.log.lastIndex() < lastBefore + 2; step++) {
      expect(step).toBeLessThan(2_000);
      for (let i = 0; i < 50; i++) {
        await turn();
      }
      if (first.node.raw.raft.log.lastIndex() === lastBefore + 1 && step % 20 === 19) {
        cluster.clock.advance(10);
      }
    }
    expect(first.node.raw.status().softState.role).toBe('leader');
    // Heal, and let exactly two ticks pass (one heartbeat); then time stands still, so the
    // resend cannot time out however slow the disk is, and replication is message driven.
    cluster.network.heal();
    for (let tick = 0; tick < 2; tick++) {
      cluster.clock.advance(10);
      for (let i = 0; i < 50; i++) {
        await turn();
      }
    }
    await cluster.settle(rotation);

    // The rotation applied once: one new keyring term, written by the first of two entries.
    const lastIndex = first.node.raw.status().applied;
    await cluster.until(() =>
      [...cluster.members.values()].every((m) => m.node.raw.status().applied >= lastIndex),
    );
    expect(first.barrier.keyringStatus().term).toBe(termBefore + 1);
    const rotations = sessionRequests(firstApplied.slice(appliedBefore));
    expect(rotations).toHaveLength(2);
    const [original, resent] = rotations;
    expect(original?.key).toBe(resent?.key);
    expect(resent?.result).toBe(original?.result);
    expect(first.store.get(keyringPath)?.version).toBe(original?.index);

    // Every replica followed the one rotation and holds the same state, sessions included.
    for (const m of cluster.members.values()) {
      expect(m.barrier.keyringStatus().term).toBe(termBefore + 1);
      expect(m.store.sessionStatus().count).toBe(1);
    }
    const hashes = await Promise.all([...cluster.members.values()].map((m) => m.store.stateHash()));
    expect(new Set(hashes).size).toBe(1);
  });
});
