/**
 * Goal: recoverLogMembership turns the on-disk log of the survivor of a cluster that lost
 * quorum into one that restarts with exactly the forced membership: the survivor, alone, leads,
 * commits its whole log (the tail it never learned was committed too) and takes new writes; the
 * term is raised, and no membership change is left to undo the forced one, neither by the
 * restart replay up to the applied index nor by a later apply. A plan that throws, a dry run, a
 * directory in use and a directory without a log change nothing on disk.
 * Method: the survivor's log is written through LevelLogStore in a temporary directory (real
 * LevelDB, fsync), in the batches a node of a grown cluster writes: the cluster began as node 1
 * alone, added nodes 2 and 3 as learners and promoted them, took writes a, b, c, then a second
 * leader term began and d was appended but never committed. After recovery one RaftNode runs
 * on the recovered log with a ManualClock and a seeded random source; waits advance the fake
 * clock a tick at a time, letting pending disk writes finish between ticks (no sleeps).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  asIndex,
  asNodeId,
  asTerm,
  ConfChangeType,
  encodeConfChange,
  EntryType,
  type ConfState,
  type Entry,
  type LogIndex,
  type SnapshotMetadata,
} from '@coffer/raft';
import {
  framedSnapshot,
  RaftNode,
  readFramedSnapshot,
  type SnapshotSource,
  type SnapshotStream,
  type StateMachine,
} from '@coffer/raft/node';
import { InMemoryNetwork, ManualClock, SeededRandom } from '@coffer/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { StorageErrorCode } from './errors.ts';
import { openLevelDatabase, type LevelDatabase } from './level_adapter.ts';
import { LevelLogStore } from './level_log_store.ts';
import { recoverLogMembership } from './log_recovery.ts';

/** Records the payloads it applies, in order; it may start as having applied some already. */
class ListMachine implements StateMachine {
  applied: string[];
  #index: LogIndex;
  constructor(applied: string[] = [], index = 0) {
    this.applied = applied;
    this.#index = asIndex(index);
  }
  appliedIndex(): LogIndex {
    return this.#index;
  }
  apply(entries: readonly Entry[]): Promise<readonly Uint8Array[]> {
    for (const e of entries) {
      if (e.type === EntryType.normal && e.data.byteLength > 0) {
        this.applied.push(new TextDecoder().decode(e.data));
      }
      this.#index = e.index;
    }
    return Promise.resolve(entries.map((e) => e.data));
  }
  snapshot(): Promise<SnapshotSource> {
    return Promise.resolve(
      framedSnapshot([new TextEncoder().encode(JSON.stringify(this.applied))]),
    );
  }
  async restore(metadata: SnapshotMetadata, chunks: SnapshotStream): Promise<void> {
    const [data = new Uint8Array(0)] = await readFramedSnapshot(chunks, 1);
    this.applied =
      data.byteLength === 0 ? [] : (JSON.parse(new TextDecoder().decode(data)) as string[]);
    this.#index = metadata.index;
  }
}

const clock = new ManualClock();
const random = new SeededRandom(11);
let root = '';
const survivorOnly: ConfState = { voters: [asNodeId(1)], learners: [] };

function logDir(id: number): string {
  return join(root, `node-${id}`, 'log');
}

/** The log writes under way: the fake clock waits for them, as real time waits for a disk. */
const writing = new Set<Promise<void>>();

/** Tracks every write of db in `writing`. */
function tracked(db: LevelDatabase): LevelDatabase {
  return {
    location: db.location,
    getSync: (key) => db.getSync(key),
    scan: (range) => db.scan(range),
    close: () => db.close(),
    write: (operations, options) => {
      const write = db.write(operations, options);
      const done = write.catch(() => undefined);
      writing.add(done);
      void done.then(() => writing.delete(done));
      return write;
    },
  };
}

/**
 * Advances the fake clock a tick at a time, letting pending disk writes finish and the event
 * loop turn between ticks, until condition holds; fails after roundsMax.
 */
async function until(condition: () => boolean, roundsMax = 3000): Promise<void> {
  for (let i = 0; i < roundsMax; i++) {
    for (let j = 0; j < 5 || writing.size > 0; j++) {
      await Promise.all([...writing]);
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (condition()) {
      return;
    }
    clock.advance(10);
  }
  throw new Error('Condition not reached within the round limit');
}

/** Every record of a LevelDB directory, hex, for before/after comparisons. */
async function diskImage(location: string): Promise<string[]> {
  const db = await openLevelDatabase(location);
  try {
    const records: string[] = [];
    for await (const r of db.scan({ gte: Uint8Array.of(0), lt: Uint8Array.of(0xff) })) {
      records.push(`${Buffer.from(r.key).toString('hex')}=${Buffer.from(r.value).toString('hex')}`);
    }
    return records;
  } finally {
    await db.close();
  }
}

function change(index: number, type: ConfChangeType, nodeId: number): Entry {
  const data = encodeConfChange({ type, nodeId: asNodeId(nodeId) });
  return { index: asIndex(index), term: asTerm(1), type: EntryType.confChange, data };
}

function write(index: number, term: number, value: string): Entry {
  const data = new TextEncoder().encode(value);
  return { index: asIndex(index), term: asTerm(term), type: EntryType.normal, data };
}

function noop(index: number, term: number): Entry {
  return {
    index: asIndex(index),
    term: asTerm(term),
    type: EntryType.normal,
    data: new Uint8Array(0),
  };
}

/** The batches node 1 wrote: its cluster grew from it alone; d (index 10) was never committed. */
const survivorLog: readonly { entries: Entry[]; term: number; commit: number }[] = [
  { entries: [noop(1, 1)], term: 1, commit: 1 },
  { entries: [change(2, ConfChangeType.addLearner, 2)], term: 1, commit: 2 },
  { entries: [change(3, ConfChangeType.addVoter, 2)], term: 1, commit: 3 },
  { entries: [change(4, ConfChangeType.addLearner, 3)], term: 1, commit: 4 },
  { entries: [change(5, ConfChangeType.addVoter, 3)], term: 1, commit: 5 },
  { entries: [write(6, 1, 'a'), write(7, 1, 'b'), write(8, 1, 'c')], term: 1, commit: 8 },
  { entries: [noop(9, 2)], term: 2, commit: 9 },
  { entries: [write(10, 2, 'd')], term: 2, commit: 9 },
];

async function writeSurvivorLog(): Promise<void> {
  const log = await LevelLogStore.open(logDir(1), { confState: survivorOnly });
  try {
    for (const { entries, term, commit } of survivorLog) {
      const hardState = { term: asTerm(term), vote: asNodeId(1), commit: asIndex(commit) };
      await log.persist({ entries, hardState, installSnapshot: undefined }, { sync: true });
    }
  } finally {
    await log.close();
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-log-recovery-'));
  await writeSurvivorLog();
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('recoverLogMembership', () => {
  it('recoverLogMembership changes nothing when the plan throws', async () => {
    const before = await diskImage(logDir(1));
    await expect(
      recoverLogMembership(logDir(1), {
        plan: () => {
          throw new Error('bad peers file');
        },
      }),
    ).rejects.toThrow('bad peers file');
    expect(await diskImage(logDir(1))).toEqual(before);
  });

  it('recoverLogMembership reports without writing on a dry run', async () => {
    const before = await diskImage(logDir(1));
    const report = await recoverLogMembership(logDir(1), {
      plan: () => survivorOnly,
      dryRun: true,
    });
    expect(report).toMatchObject({ dryRun: true, confState: survivorOnly, neutralizedCount: 4 });
    expect(report.before.confState.voters).toEqual([1, 2, 3]);
    expect(await diskImage(logDir(1))).toEqual(before);
  });

  it('recoverLogMembership refuses a directory a running store holds, with COFFER_STORAGE_LOCKED', async () => {
    const before = await diskImage(logDir(1));
    const open = await LevelLogStore.open(logDir(1));
    try {
      await expect(
        recoverLogMembership(logDir(1), { plan: () => survivorOnly }),
      ).rejects.toMatchObject({ code: StorageErrorCode.locked });
    } finally {
      await open.close();
    }
    expect(await diskImage(logDir(1))).toEqual(before);
  });

  it('recoverLogMembership refuses a directory that holds no log', async () => {
    await expect(
      recoverLogMembership(join(root, 'empty'), { plan: () => survivorOnly }),
    ).rejects.toMatchObject({ code: StorageErrorCode.invalidWrite });
  });

  it('recoverLogMembership makes the survivor a cluster of one that leads, keeps every write and takes new ones', async () => {
    const report = await recoverLogMembership(logDir(1), { plan: () => survivorOnly });
    expect(report.before.confState).toEqual({ voters: [1, 2, 3], learners: [] });
    expect(report.confState).toEqual(survivorOnly);
    expect(report.hardState).toEqual({
      term: report.before.hardState.term + 1,
      vote: 0,
      commit: report.before.hardState.commit,
    });
    expect(report.neutralizedCount).toBe(4);

    // What a restart reads: the forced membership, the raised term, no membership change left.
    const log = await LevelLogStore.open(logDir(1), { wrapDatabase: tracked });
    expect(log.initialState()).toEqual({ confState: survivorOnly, hardState: report.hardState });
    expect(log.lastIndex()).toBe(report.before.lastIndex);
    const entries = log.entries(log.firstIndex(), asIndex(log.lastIndex() + 1), 1 << 30);
    expect(entries.filter((e) => e.type === EntryType.confChange)).toEqual([]);

    // The state machine applied up to c (index 8), as a node's state store would have: the
    // restart replays the membership up to there, and finds no change left to replay.
    const machine = new ListMachine(['a', 'b', 'c'], 8);
    const node = await RaftNode.start({
      id: 1,
      log,
      stateMachine: machine,
      transport: new InMemoryNetwork().connect(asNodeId(1)),
      clock,
      randomInt: (n) => random.int(n),
      tickIntervalMs: 10,
    });
    try {
      await until(() => node.raw.status().softState.role === 'leader');
      expect(node.raw.status().hardState.term).toBeGreaterThan(report.hardState.term);
      expect(node.raw.status().confState).toEqual(survivorOnly);
      // The tail the survivor never learned was committed commits with its new term's no-op.
      await until(() => machine.applied.join() === 'a,b,c,d');
      expect((await node.propose(new TextEncoder().encode('e'))).ok).toBe(true);
      expect(machine.applied).toEqual(['a', 'b', 'c', 'd', 'e']);
    } finally {
      await node.stop();
    }
  });
});
