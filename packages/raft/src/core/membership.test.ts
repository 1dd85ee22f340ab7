// Goal: single-server membership changes (thesis Ch. 4; paper §6 for the general problem):
// learners receive the log but neither vote nor count for commit; a caught-up learner is
// promoted and a lagging one is refused (thesis §4.2.1); voters are added and removed; a
// removed leader steps down (thesis §4.2.2); one change is pending at a time, and a new leader
// proposes none until its own no-op is applied (the 2015 single-server fix); a node outside
// the configuration never campaigns. Method: InMemoryCluster driving real RawNodes by the
// driver contract, with partitions; a few precise rules on a single Raft.
import { describe, expect, it } from 'vitest';
import { InMemoryCluster, RecordingStateMachine } from '../testing.ts';
import { encodeConfChange } from './conf_change.ts';
import { makeConfig } from './config.ts';
import { RaftErrorCode } from './errors.ts';
import { MemoryStorage } from './memory_storage.ts';
import { Raft } from './raft.ts';
import {
  asIndex,
  asNodeId,
  asTerm,
  ConfChangeType,
  EntryType,
  MessageType,
  Role,
  type ConfChange,
  type NodeId,
} from './types.ts';

/** What node id applied, read from its RecordingStateMachine. */
function recorded(cluster: InMemoryCluster, id: number): string[] {
  const stateMachine = cluster.node(id).stateMachine;
  if (!(stateMachine instanceof RecordingStateMachine)) {
    throw new Error(`Node ${id} does not record what it applies`);
  }
  return stateMachine.applied;
}

function change(type: ConfChange['type'], nodeId: number): ConfChange {
  return { type, nodeId: asNodeId(nodeId) };
}

function applied(cluster: InMemoryCluster, id: number): string[] {
  return recorded(cluster, id);
}

function voters(cluster: InMemoryCluster, id: number): readonly NodeId[] {
  return cluster.node(id).raw.status().confState.voters;
}

function learners(cluster: InMemoryCluster, id: number): readonly NodeId[] {
  return cluster.node(id).raw.status().confState.learners;
}

function commit(cluster: InMemoryCluster, id: number): number {
  return cluster.node(id).raw.status().hardState.commit;
}

/** Proposes a change on the leader, settles, and expects it accepted. */
function changeConf(cluster: InMemoryCluster, leader: number, cc: ConfChange): void {
  expect(cluster.node(leader).raw.proposeConfChange(cc)).toEqual({ ok: true });
  cluster.stabilize();
}

function tickAndSettle(cluster: InMemoryCluster, ticks: number): void {
  for (let i = 0; i < ticks; i++) {
    cluster.tickAll();
    cluster.stabilize();
  }
}

describe('learners', () => {
  it('Raft sends a learner the log but asks it for no vote', () => {
    // Reference: thesis §4.2.1 — new servers join as non-voting members.
    const cluster = new InMemoryCluster({ voters: [1, 2, 3], learners: [4] });
    cluster.node(1).raw.campaign();
    const seen = cluster.stabilize();
    expect(
      seen.some(
        (m) => (m.type === MessageType.vote || m.type === MessageType.preVote) && m.to === 4,
      ),
    ).toBe(false);
    cluster.propose(1, 'a', 'b');
    expect(applied(cluster, 4)).toEqual(['a', 'b']);
  });

  it('Raft does not count a learner acknowledgement toward commit', () => {
    // Reference: Raft §5.3 — a majority of the voting members commits an entry.
    const cluster = new InMemoryCluster({ voters: [1, 2], learners: [3] });
    cluster.elect(1);
    const before = commit(cluster, 1);
    cluster.isolate(2);
    cluster.propose(1, 'x');
    expect(cluster.node(3).raw.status().lastIndex).toBe(cluster.node(1).raw.status().lastIndex);
    expect(commit(cluster, 1)).toBe(before);
  });

  it('Raft.tick never makes a learner campaign', () => {
    const cluster = new InMemoryCluster({ voters: [1, 2, 3], learners: [4] });
    cluster.elect(1);
    cluster.isolate(4);
    tickAndSettle(cluster, 100);
    expect(cluster.node(4).raw.status().softState.role).toBe(Role.follower);
    expect(cluster.node(4).raw.status().hardState.term).toBe(1);
  });

  it('RawNode.proposeConfChange promotes a caught-up learner, which then counts for commit', () => {
    // Reference: thesis §4.2.1 — promote once the new server has caught up.
    const cluster = new InMemoryCluster({ voters: [1, 2], learners: [3] });
    cluster.elect(1);
    cluster.propose(1, 'a');
    changeConf(cluster, 1, change(ConfChangeType.addVoter, 3));
    for (const id of [1, 2, 3]) {
      expect(voters(cluster, id)).toEqual([1, 2, 3]);
      expect(learners(cluster, id)).toEqual([]);
    }
    cluster.isolate(2);
    const before = commit(cluster, 1);
    cluster.propose(1, 'b');
    expect(commit(cluster, 1)).toBeGreaterThan(before);
    expect(applied(cluster, 3)).toEqual(['a', 'b']);
  });

  it('RawNode.proposeConfChange refuses to promote a learner lagging past promotionLagEntriesMax', () => {
    // Reference: thesis §4.2.1 — adding a voter that is far behind can leave the cluster
    // unable to commit while it catches up.
    const cluster = new InMemoryCluster({
      voters: [1, 2],
      learners: [3],
      node: { promotionLagEntriesMax: 2 },
    });
    cluster.elect(1);
    cluster.isolate(3);
    for (let i = 0; i < 5; i++) {
      cluster.propose(1, `v${i}`);
    }
    const refused = cluster.node(1).raw.proposeConfChange(change(ConfChangeType.addVoter, 3));
    expect(refused).toMatchObject({ ok: false, code: RaftErrorCode.invalidConfChange });
    expect(voters(cluster, 1)).toEqual([1, 2]);
    cluster.heal();
    tickAndSettle(cluster, 2);
    changeConf(cluster, 1, change(ConfChangeType.addVoter, 3));
    expect(voters(cluster, 1)).toEqual([1, 2, 3]);
  });

  it('RawNode.proposeConfChange demotes a voter to learner', () => {
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    cluster.elect(1);
    changeConf(cluster, 1, change(ConfChangeType.addLearner, 3));
    expect(voters(cluster, 1)).toEqual([1, 2]);
    expect(learners(cluster, 1)).toEqual([3]);
    cluster.propose(1, 'after');
    expect(applied(cluster, 3)).toEqual(['after']);
  });
});

describe('voters', () => {
  it('RawNode.proposeConfChange adds a voter that then catches up and counts', () => {
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    cluster.elect(1);
    cluster.propose(1, 'a');
    changeConf(cluster, 1, change(ConfChangeType.addVoter, 4));
    expect(voters(cluster, 1)).toEqual([1, 2, 3, 4]);
    cluster.addNode(asNodeId(4), { voters: [1, 2, 3, 4].map(asNodeId), learners: [] });
    tickAndSettle(cluster, 2);
    expect(applied(cluster, 4)).toEqual(['a']);
    expect(voters(cluster, 4)).toEqual([1, 2, 3, 4]);
    // With four voters a quorum is three: with 2 cut off, the commit needs 4's ack.
    cluster.isolate(2);
    const before = commit(cluster, 1);
    cluster.propose(1, 'b');
    expect(commit(cluster, 1)).toBeGreaterThan(before);
    cluster.isolate(3);
    const stuck = commit(cluster, 1);
    cluster.propose(1, 'c');
    expect(commit(cluster, 1)).toBe(stuck);
  });

  it('RawNode.proposeConfChange removes a voter, which then never campaigns', () => {
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    cluster.elect(1);
    changeConf(cluster, 1, change(ConfChangeType.removeNode, 3));
    tickAndSettle(cluster, 1);
    expect(voters(cluster, 1)).toEqual([1, 2]);
    expect(voters(cluster, 3)).toEqual([1, 2]);
    cluster.isolate(3);
    const term = cluster.node(3).raw.status().hardState.term;
    tickAndSettle(cluster, 100);
    expect(cluster.node(3).raw.status().softState.role).toBe(Role.follower);
    expect(cluster.node(3).raw.status().hardState.term).toBe(term);
    cluster.node(3).raw.campaign();
    expect(cluster.node(3).raw.hasReady()).toBe(false);
    // Two voters remain and still commit.
    cluster.propose(1, 'x');
    expect(applied(cluster, 2)).toEqual(['x']);
  });

  it('RawNode.proposeConfChange removing the leader makes it step down once applied', () => {
    // Reference: thesis §4.2.2 — the removed leader steps down after committing the change,
    // and one of the remaining servers is elected.
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    cluster.elect(1);
    changeConf(cluster, 1, change(ConfChangeType.removeNode, 1));
    expect(cluster.node(1).raw.status().softState.role).toBe(Role.follower);
    expect(voters(cluster, 1)).toEqual([2, 3]);
    for (let i = 0; i < 100 && cluster.leader() === undefined; i++) {
      tickAndSettle(cluster, 1);
    }
    const leader = cluster.leader();
    expect([2, 3]).toContain(leader?.id);
    cluster.propose(leader?.id ?? 0, 'after');
    expect(applied(cluster, 2)).toEqual(['after']);
    expect(cluster.node(1).raw.status().softState.role).toBe(Role.follower);
  });

  it('RawNode.proposeConfChange demoting the leader makes it step down once applied', () => {
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    cluster.elect(1);
    changeConf(cluster, 1, change(ConfChangeType.addLearner, 1));
    expect(cluster.node(1).raw.status().softState.role).toBe(Role.follower);
    expect(learners(cluster, 1)).toEqual([1]);
  });
});

describe('pending changes', () => {
  it('RawNode.proposeConfChange allows one pending change at a time', () => {
    // Reference: thesis §4.1 — a leader does not start a new change until the previous one
    // has been committed (here: applied).
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    cluster.elect(1);
    const leader = cluster.node(1).raw;
    expect(leader.proposeConfChange(change(ConfChangeType.addLearner, 4))).toEqual({ ok: true });
    expect(leader.proposeConfChange(change(ConfChangeType.addLearner, 5))).toMatchObject({
      ok: false,
      code: RaftErrorCode.confChangePending,
    });
    cluster.stabilize();
    expect(leader.proposeConfChange(change(ConfChangeType.addLearner, 5))).toEqual({ ok: true });
    cluster.stabilize();
    expect(learners(cluster, 1)).toEqual([4, 5]);
  });

  it('RawNode.proposeConfChange on a new leader is refused until its no-op is applied', () => {
    // Reference: the single-server change bug (Ongaro, raft-dev 2015; thesis errata) — a
    // leader must commit an entry of its own term before it appends a configuration change.
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    cluster.filters.push((m) => m.type !== MessageType.append);
    cluster.elect(1);
    const leader = cluster.node(1).raw;
    expect(leader.status().softState.role).toBe(Role.leader);
    expect(leader.proposeConfChange(change(ConfChangeType.addLearner, 4))).toMatchObject({
      ok: false,
      code: RaftErrorCode.confChangePending,
    });
    cluster.heal();
    tickAndSettle(cluster, 1);
    expect(leader.status().applied).toBe(leader.status().lastIndex);
    expect(leader.proposeConfChange(change(ConfChangeType.addLearner, 4))).toEqual({ ok: true });
  });

  it('RawNode.proposeConfChange on a follower answers not leader', () => {
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    cluster.elect(1);
    expect(
      cluster.node(2).raw.proposeConfChange(change(ConfChangeType.addLearner, 4)),
    ).toMatchObject({
      ok: false,
      code: RaftErrorCode.notLeader,
      leaderHint: 1,
    });
  });

  it('RawNode.proposeConfChange refuses a change that names no valid member', () => {
    const cluster = new InMemoryCluster({ voters: [1] });
    cluster.elect(1);
    const leader = cluster.node(1).raw;
    for (const cc of [
      change(ConfChangeType.removeNode, 7),
      change(ConfChangeType.removeNode, 1),
      change(ConfChangeType.addVoter, 0),
      change(ConfChangeType.addLearner, -2),
    ]) {
      expect(leader.proposeConfChange(cc), JSON.stringify(cc)).toMatchObject({
        ok: false,
        code: RaftErrorCode.invalidConfChange,
      });
    }
    expect(leader.status().confState).toEqual({ voters: [1], learners: [] });
  });

  it('Raft.hup refuses to campaign while a committed membership change is not applied', () => {
    // etcd raft.go hup: the configuration this node would campaign under may be stale.
    const storage = new MemoryStorage({
      voters: [asNodeId(1), asNodeId(2), asNodeId(3)],
      learners: [],
    });
    storage.append([
      {
        index: asIndex(1),
        term: asTerm(1),
        type: EntryType.confChange,
        data: encodeConfChange(change(ConfChangeType.addLearner, 4)),
      },
    ]);
    storage.setHardState({ term: asTerm(1), vote: asNodeId(0), commit: asIndex(1) });
    const r = new Raft(makeConfig({ id: asNodeId(1), storage, randomInt: () => 0 }));
    r.hup('election');
    expect(r.role).toBe(Role.follower);
    expect(r.messages).toEqual([]);
  });

  it('Raft restarts with the membership changes it applied after its snapshot (regression)', () => {
    // Found by the three-process cluster test: a restarted node took its snapshot's (or first)
    // membership, a lone voter, and elected itself leader of a one-node cluster.
    const storage = new MemoryStorage({ voters: [asNodeId(1)], learners: [] });
    storage.append([
      { index: asIndex(1), term: asTerm(1), type: EntryType.normal, data: new Uint8Array(0) },
      {
        index: asIndex(2),
        term: asTerm(1),
        type: EntryType.confChange,
        data: encodeConfChange(change(ConfChangeType.addLearner, 2)),
      },
      {
        index: asIndex(3),
        term: asTerm(1),
        type: EntryType.confChange,
        data: encodeConfChange(change(ConfChangeType.addVoter, 2)),
      },
      {
        index: asIndex(4),
        term: asTerm(1),
        type: EntryType.confChange,
        data: encodeConfChange(change(ConfChangeType.addLearner, 3)),
      },
    ]);
    storage.setHardState({ term: asTerm(1), vote: asNodeId(1), commit: asIndex(4) });
    // Applied through 3: index 4 is committed but not applied, so it is applied when delivered.
    const r = new Raft(
      makeConfig({ id: asNodeId(1), storage, randomInt: () => 0, appliedIndex: asIndex(3) }),
    );
    expect(r.confState()).toEqual({ voters: [1, 2], learners: [] });
    r.hup('election');
    expect(r.role).not.toBe(Role.leader);
  });
});
