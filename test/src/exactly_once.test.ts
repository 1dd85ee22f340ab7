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
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Barrier, CoreStateMachine, SecretKey, SecureStore, unsealFromState } from '@coffer/core';
import { asNodeId, type ConfState, type Entry } from '@coffer/raft';
import { RaftNode, type StateMachine } from '@coffer/raft/node';
import { InMemoryNetwork, ManualClock, SeededRandom } from '@coffer/raft/testing';
import { decodeEntryData, LevelLogStore, LevelStateStore } from '@coffer/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const conf: ConfState = { voters: [1, 2, 3].map(asNodeId), learners: [] };
const epochMs = Date.UTC(2026, 10, 25);
const keyringPath = 'core/keyring';

interface Applied {
  readonly entry: Entry;
  readonly result: Uint8Array;
}

interface Member {
  readonly id: number;
  readonly node: RaftNode;
  readonly store: LevelStateStore;
  readonly barrier: Barrier;
  readonly secure: SecureStore;
  readonly applied: Applied[];
}

interface Cluster {
  readonly root: string;
  readonly clock: ManualClock;
  readonly network: InMemoryNetwork;
  readonly members: Map<number, Member>;
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
    snapshot: () => machine.snapshot(),
    restore: (metadata, chunks) => machine.restore(metadata, chunks),
  };
}

async function startMember(cluster: Cluster, id: number): Promise<Member> {
  const dir = join(cluster.root, `node-${id}`);
  const log = await LevelLogStore.open(join(dir, 'log'), { confState: conf });
  const store = await LevelStateStore.open(join(dir, 'state'));
  const barrier = new Barrier();
  const random = new SeededRandom(id);
  const applied: Applied[] = [];
  const node = await RaftNode.start({
    id,
    log,
    stateMachine: recording(new CoreStateMachine(store, barrier), applied),
    transport: cluster.network.connect(asNodeId(id)),
    clock: cluster.clock,
    randomInt: (n) => random.int(n),
    tickIntervalMs: 10,
    // Well below the election timeout (200 to 400 ms): a proposal times out while its leader leads.
    requestTimeoutMs: 50,
    raft: { electionTimeoutTicks: 20, heartbeatIntervalTicks: 2 },
  });
  const secure = new SecureStore({
    node,
    store,
    barrier,
    nowMs: () => epochMs + cluster.clock.nowMs(),
  });
  const member = { id, node, store, barrier, secure, applied };
  cluster.members.set(id, member);
  return member;
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Lets the cluster run until work is done; with ticking, a 10 ms tick every 100 turns. */
async function settle<T>(
  cluster: Cluster,
  work: Promise<T>,
  options: { ticking: boolean } = { ticking: false },
): Promise<T> {
  // NB: set by the callbacks below, which TypeScript cannot see.
  let done = false as boolean;
  let value: T | undefined;
  let failure: unknown;
  work.then(
    (v) => {
      done = true;
      value = v;
    },
    (error: unknown) => {
      done = true;
      failure = error ?? new Error('rejected');
    },
  );
  for (let round = 0; round < 200_000 && !done; round++) {
    if (options.ticking && round % 100 === 99) {
      cluster.clock.advance(10);
    }
    await turn();
  }
  if (!done) {
    throw new Error('The cluster did not finish the work within the round limit');
  }
  if (failure !== undefined) {
    throw failure instanceof Error ? failure : new Error('rejected');
  }
  return value as T;
}

async function until(cluster: Cluster, condition: () => boolean): Promise<void> {
  await settle(
    cluster,
    (async () => {
      while (!condition()) {
        await turn();
      }
    })(),
    { ticking: true },
  );
}

function leader(cluster: Cluster): Member | undefined {
  return [...cluster.members.values()].find((m) => m.node.raw.status().softState.role === 'leader');
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
  const cluster: Cluster = {
    root: '',
    clock: new ManualClock(),
    network: new InMemoryNetwork(),
    members: new Map(),
  };
  let rootKey: SecretKey;

  beforeAll(async () => {
    Object.assign(cluster, { root: await mkdtemp(join(tmpdir(), 'coffer-exactly-once-')) });
    rootKey = SecretKey.generate();
  });

  afterAll(async () => {
    for (const member of cluster.members.values()) {
      await member.node.stop();
      await member.store.close();
      member.barrier.seal();
    }
    rootKey.zero();
    await rm(cluster.root, { recursive: true, force: true });
  });

  it('SecureStore.rotate resent after a timeout is applied once and answered with the original result', async () => {
    for (const id of [1, 2, 3]) {
      await startMember(cluster, id);
    }
    await until(cluster, () => leader(cluster) !== undefined);
    const first = leader(cluster) as Member;
    await settle(cluster, first.secure.initialize(rootKey.clone()));
    await until(cluster, () =>
      [...cluster.members.values()].every((m) => m.store.get(keyringPath) !== undefined),
    );
    for (const m of cluster.members.values()) {
      if (m !== first) {
        unsealFromState(m, rootKey.clone());
      }
    }
    await settle(cluster, first.secure.put('secret/data/a', new TextEncoder().encode('v1')));
    const termBefore = first.barrier.keyringStatus().term;
    const appliedBefore = first.applied.length;

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
    await settle(cluster, rotation);

    // The rotation applied once: one new keyring term, written by the first of two entries.
    const lastIndex = first.node.raw.status().applied;
    await until(cluster, () =>
      [...cluster.members.values()].every((m) => m.node.raw.status().applied >= lastIndex),
    );
    expect(first.barrier.keyringStatus().term).toBe(termBefore + 1);
    const rotations = sessionRequests(first.applied.slice(appliedBefore));
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
