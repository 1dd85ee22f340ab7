/**
 * Goal: through the whole stack (barrier, Raft log, LevelDB state, snapshots, InstallSnapshot),
 * no plaintext value and no token id ever reaches disk, while paths do (they are stored in clear,
 * as in Vault), and every replica ends with the same state.
 * Method: three nodes in one process on real LevelDB directories, the encoding in-memory
 * transport and a manual clock. Random canary values and a token id are written; one node is
 * stopped while the others write enough to snapshot and compact, then restarted so that it
 * catches up by InstallSnapshot. Every byte of every data directory is scanned for each canary
 * in UTF-8, hex and base64; the paths are the positive control (the scan must find them, so
 * LevelDB's compression cannot hide a canary from it).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  Barrier,
  CoreStateMachine,
  IdentifierPurpose,
  SecretKey,
  SecureStore,
  unsealFromState,
} from '@coffer/core';
import { asNodeId, type ConfState } from '@coffer/raft';
import { RaftNode } from '@coffer/raft/node';
import { InMemoryNetwork, ManualClock, SeededRandom } from '@coffer/raft/testing';
import { LevelLogStore, LevelStateStore } from '@coffer/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const conf: ConfState = { voters: [1, 2, 3].map(asNodeId), learners: [] };
const epochMs = Date.UTC(2026, 10, 25);

interface Member {
  readonly id: number;
  readonly node: RaftNode;
  readonly store: LevelStateStore;
  readonly barrier: Barrier;
  readonly secure: SecureStore;
}

interface Cluster {
  readonly root: string;
  readonly clock: ManualClock;
  readonly network: InMemoryNetwork;
  readonly members: Map<number, Member>;
}

async function startMember(cluster: Cluster, id: number, rootKey?: SecretKey): Promise<Member> {
  const dir = join(cluster.root, `node-${id}`);
  const log = await LevelLogStore.open(join(dir, 'log'), { confState: conf });
  const store = await LevelStateStore.open(join(dir, 'state'));
  const barrier = new Barrier();
  if (rootKey !== undefined) {
    unsealFromState({ store, barrier }, rootKey);
  }
  const random = new SeededRandom(id);
  const node = await RaftNode.start({
    id,
    log,
    stateMachine: new CoreStateMachine(store, barrier),
    transport: cluster.network.connect(asNodeId(id)),
    clock: cluster.clock,
    randomInt: (n) => random.int(n),
    tickIntervalMs: 10,
    raft: { logEntriesMax: 24, electionTimeoutTicks: 10, heartbeatIntervalTicks: 2 },
    snapshotKeepEntries: 4,
  });
  const secure = new SecureStore({
    node,
    store,
    barrier,
    nowMs: () => epochMs + cluster.clock.nowMs(),
  });
  const member = { id, node, store, barrier, secure };
  cluster.members.set(id, member);
  return member;
}

async function stopMember(cluster: Cluster, id: number): Promise<void> {
  const member = cluster.members.get(id);
  cluster.members.delete(id);
  await member?.node.stop();
  await member?.store.close();
  member?.barrier.seal();
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Lets the cluster run until work is done. With ticking, the manual clock advances a tick every
 * 100 turns of the event loop (for elections, heartbeats and catching up); without, time stands
 * still, so a slow disk can never look like a dead leader.
 */
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

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Which of the needles occur in any file under dir, in UTF-8, hex or base64. */
async function found(dir: string, needles: readonly string[]): Promise<Set<string>> {
  const hits = new Set<string>();
  for (const file of await filesUnder(dir)) {
    const bytes = await readFile(file);
    for (const needle of needles) {
      const forms = [
        Buffer.from(needle),
        Buffer.from(Buffer.from(needle).toString('hex')),
        Buffer.from(Buffer.from(needle).toString('base64').replace(/=+$/, '')),
      ];
      if (forms.some((form) => bytes.includes(form))) {
        hits.add(needle);
      }
    }
  }
  return hits;
}

describe('the encrypted stack', () => {
  const cluster: Cluster = {
    root: '',
    clock: new ManualClock(),
    network: new InMemoryNetwork(),
    members: new Map(),
  };
  let rootKey: SecretKey;

  beforeAll(async () => {
    Object.assign(cluster, { root: await mkdtemp(join(tmpdir(), 'coffer-encrypted-stack-')) });
    rootKey = SecretKey.generate();
  });

  afterAll(async () => {
    for (const id of [...cluster.members.keys()]) {
      await stopMember(cluster, id);
    }
    rootKey.zero();
    await rm(cluster.root, { recursive: true, force: true });
  });

  it('no canary value or token id reaches any data directory, through snapshot, compaction and InstallSnapshot', async () => {
    for (const id of [1, 2, 3]) {
      await startMember(cluster, id);
    }
    await until(cluster, () => leader(cluster) !== undefined);
    const first = leader(cluster) as Member;
    await settle(cluster, first.secure.initialize(rootKey.clone()));
    await until(cluster, () =>
      [...cluster.members.values()].every((m) => m.store.get('core/keyring') !== undefined),
    );
    for (const m of cluster.members.values()) {
      if (m !== first) {
        unsealFromState(m, rootKey.clone());
      }
    }

    const canary = (): string => `canary-${randomBytes(16).toString('hex')}`;
    const values = new Map<string, string>();
    const paths: string[] = [];
    const tokenId = `hvs.${randomBytes(18).toString('base64url')}`;
    const tokenPath = `auth/token/id/${first.barrier.hmacIdentifier(IdentifierPurpose.token, tokenId)}`;
    values.set(tokenPath, JSON.stringify({ id: tokenId, policies: ['default'] }));
    for (let i = 0; i < 6; i++) {
      const path = `secret/data/path-${randomBytes(6).toString('hex')}`;
      paths.push(path);
      values.set(path, canary());
    }
    const writes = async (member: Member, entries: Iterable<[string, string]>): Promise<void> => {
      for (const [path, value] of entries) {
        await member.secure.put(path, new TextEncoder().encode(value));
      }
    };
    await settle(cluster, writes(first, values));
    await settle(cluster, first.secure.rotate());

    // Node 3 misses enough writes for the leader to snapshot and compact past it.
    const lagging = [...cluster.members.keys()].find((id) => id !== first.id) ?? 3;
    const lagApplied = cluster.members.get(lagging)?.node.raw.status().applied ?? 0;
    await stopMember(cluster, lagging);
    const more = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      more.set(`secret/data/more-${i}`, canary());
    }
    await settle(cluster, writes(first, more));
    await until(cluster, () => first.node.raw.raft.log.firstIndex() > lagApplied + 1);
    const restarted = await startMember(cluster, lagging, rootKey.clone());
    const lastIndex = first.node.raw.status().applied;
    await until(cluster, () => restarted.node.raw.status().applied >= lastIndex);

    // Every replica reads back the same plaintext and holds the same state.
    for (const m of cluster.members.values()) {
      expect(m.barrier.isSealed).toBe(false);
    }
    for (const [path, value] of [...values, ...more]) {
      const read = await settle(cluster, first.secure.get(path));
      expect(new TextDecoder().decode(read)).toBe(value);
    }
    const hashes = await Promise.all([...cluster.members.values()].map((m) => m.store.stateHash()));
    expect(new Set(hashes).size).toBe(1);

    for (const id of [...cluster.members.keys()]) {
      await stopMember(cluster, id);
    }
    const secrets = [...values.values(), ...more.values(), tokenId];
    expect([...(await found(cluster.root, secrets))]).toEqual([]);
    expect([...(await found(cluster.root, paths))].sort()).toEqual([...paths].sort());
  });
});
