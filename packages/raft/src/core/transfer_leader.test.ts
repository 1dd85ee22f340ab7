// Goal: leadership transfer (thesis §3.10; etcd TestLeaderTransfer*): the leader brings the
// target up to date, sends TimeoutNow, and the target campaigns at once, bypassing PreVote and
// the followers' lease; the leader refuses proposals meanwhile and gives up after an election
// timeout; bad targets are refused. Method: InMemoryCluster with message filters, and status
// and message checks on the real RawNodes.
import { describe, expect, it } from 'vitest';
import { InMemoryCluster, RecordingStateMachine } from '../testing.ts';
import { RaftErrorCode } from './errors.ts';
import { asNodeId, asTerm, ConfChangeType, makeMessage, MessageType, Role } from './types.ts';

/** What node id applied, read from its RecordingStateMachine. */
function recorded(cluster: InMemoryCluster, id: number): string[] {
  const stateMachine = cluster.node(id).stateMachine;
  if (!(stateMachine instanceof RecordingStateMachine)) {
    throw new Error(`Node ${id} does not record what it applies`);
  }
  return stateMachine.applied;
}

function role(cluster: InMemoryCluster, id: number): Role {
  return cluster.node(id).raw.status().softState.role;
}

function term(cluster: InMemoryCluster, id: number): number {
  return cluster.node(id).raw.status().hardState.term;
}

function applied(cluster: InMemoryCluster, id: number): string[] {
  return recorded(cluster, id);
}

function electedCluster(): InMemoryCluster {
  const cluster = new InMemoryCluster({ voters: [1, 2, 3], learners: [4] });
  cluster.elect(1);
  cluster.propose(1, 'a');
  return cluster;
}

describe('RawNode.transferLeader', () => {
  it('RawNode.transferLeader to an up-to-date voter sends TimeoutNow and the target leads the next term', () => {
    // Reference: thesis §3.10 — once the target's log matches, the leader sends TimeoutNow
    // and the target starts an election at once.
    const cluster = electedCluster();
    expect(cluster.node(1).raw.transferLeader(asNodeId(2))).toEqual({ ok: true });
    expect(cluster.node(1).raw.raft.messages.map((m) => [m.type, m.to])).toEqual([
      [MessageType.timeoutNow, 2],
    ]);
    const seen = cluster.stabilize();
    expect(seen.some((m) => m.type === MessageType.preVote)).toBe(false);
    expect(role(cluster, 2)).toBe(Role.leader);
    expect(term(cluster, 2)).toBe(2);
    expect(role(cluster, 1)).toBe(Role.follower);
    expect(cluster.node(1).raw.status().softState.leader).toBe(2);
    cluster.propose(2, 'b');
    expect(applied(cluster, 1)).toEqual(['a', 'b']);
  });

  it('RawNode.transferLeader catches a lagging target up before sending TimeoutNow', () => {
    // Reference: thesis §3.10 step 1 — the leader first replicates to the target.
    const cluster = electedCluster();
    cluster.isolate(3);
    cluster.propose(1, 'b', 'c');
    cluster.heal();
    const leader = cluster.node(1).raw;
    leader.transferLeader(asNodeId(3));
    expect(leader.raft.messages.some((m) => m.type === MessageType.timeoutNow)).toBe(false);
    expect(leader.status().leadTransferee).toBe(3);
    const seen = cluster.stabilize();
    const timeoutNowAt = seen.findIndex((m) => m.type === MessageType.timeoutNow);
    const lastAppendTo3 = seen
      .map((m) => m.type === MessageType.append && m.to === 3)
      .lastIndexOf(true);
    expect(timeoutNowAt).toBeGreaterThan(lastAppendTo3);
    expect(role(cluster, 3)).toBe(Role.leader);
    expect(applied(cluster, 3)).toEqual(['a', 'b', 'c']);
  });

  it('RawNode.propose is refused with COFFER_RAFT_PROPOSAL_DROPPED while a transfer is in progress', () => {
    // Reference: thesis §3.10 — the leader stops accepting client requests during a transfer.
    const cluster = electedCluster();
    cluster.isolate(2);
    const leader = cluster.node(1).raw;
    leader.transferLeader(asNodeId(2));
    expect(leader.propose([new Uint8Array([1])])).toMatchObject({
      ok: false,
      code: RaftErrorCode.proposalDropped,
    });
  });

  it('RawNode.transferLeader gives up after an election timeout when the target does not take over', () => {
    // Reference: thesis §3.10 — "if the transfer does not complete within an election timeout,
    // the prior leader aborts the transfer and resumes accepting client requests".
    const cluster = electedCluster();
    cluster.filters.push((m) => m.type !== MessageType.timeoutNow);
    const leader = cluster.node(1).raw;
    leader.transferLeader(asNodeId(2));
    cluster.stabilize();
    expect(leader.status().leadTransferee).toBe(2);
    for (let i = 0; i < 10; i++) {
      cluster.tickAll();
      cluster.stabilize();
    }
    expect(leader.status().leadTransferee).toBe(0);
    expect(role(cluster, 1)).toBe(Role.leader);
    expect(leader.propose([new TextEncoder().encode('resumed')])).toEqual({ ok: true });
  });

  it('RawNode.transferLeader to the same target again is accepted and sends nothing new', () => {
    const cluster = electedCluster();
    cluster.isolate(2);
    const leader = cluster.node(1).raw;
    leader.transferLeader(asNodeId(2));
    const sent = leader.raft.messages.length;
    expect(leader.transferLeader(asNodeId(2))).toEqual({ ok: true });
    expect(leader.raft.messages.length).toBe(sent);
  });

  it('RawNode.transferLeader to another target replaces the pending transfer', () => {
    const cluster = electedCluster();
    cluster.filters.push((m) => !(m.type === MessageType.timeoutNow && m.to === 2));
    const leader = cluster.node(1).raw;
    leader.transferLeader(asNodeId(2));
    cluster.stabilize();
    expect(leader.transferLeader(asNodeId(3))).toEqual({ ok: true });
    cluster.stabilize();
    expect(role(cluster, 3)).toBe(Role.leader);
  });

  it('RawNode.transferLeader refuses the leader itself, a learner and a non-member', () => {
    const cluster = electedCluster();
    const leader = cluster.node(1).raw;
    for (const target of [1, 4, 9]) {
      expect(leader.transferLeader(asNodeId(target)), `target ${target}`).toMatchObject({
        ok: false,
        code: RaftErrorCode.invalidConfChange,
      });
    }
    expect(leader.status().leadTransferee).toBe(0);
  });

  it('RawNode.transferLeader on a follower answers not leader with a hint', () => {
    const cluster = electedCluster();
    expect(cluster.node(2).raw.transferLeader(asNodeId(3))).toMatchObject({
      ok: false,
      code: RaftErrorCode.notLeader,
      leaderHint: 1,
    });
  });

  it('RawNode.transferLeader is aborted when the target is removed from the cluster', () => {
    const cluster = electedCluster();
    cluster.filters.push((m) => m.type !== MessageType.timeoutNow);
    const leader = cluster.node(1).raw;
    // The removal goes in first; the transfer is requested while it is in flight.
    expect(
      leader.proposeConfChange({ type: ConfChangeType.removeNode, nodeId: asNodeId(3) }),
    ).toEqual({ ok: true });
    leader.transferLeader(asNodeId(3));
    cluster.stabilize();
    expect(leader.status().confState.voters).toEqual([1, 2]);
    expect(leader.status().leadTransferee).toBe(0);
  });

  it('RawNode.step makes a learner ignore TimeoutNow', () => {
    // A learner cannot vote, so it must not start an election even when asked.
    const cluster = electedCluster();
    const learner = cluster.node(4).raw;
    learner.step(
      makeMessage({
        type: MessageType.timeoutNow,
        from: asNodeId(1),
        to: asNodeId(4),
        term: learner.raft.term,
      }),
    );
    expect(learner.status().softState.role).toBe(Role.follower);
    expect(learner.raft.messages).toEqual([]);
  });

  it('RawNode.step ignores a TimeoutNow from an older term', () => {
    const cluster = electedCluster();
    const follower = cluster.node(3).raw;
    follower.step(
      makeMessage({
        type: MessageType.heartbeat,
        from: asNodeId(2),
        to: asNodeId(3),
        term: asTerm(5),
      }),
    );
    follower.raft.messages = [];
    follower.step(
      makeMessage({
        type: MessageType.timeoutNow,
        from: asNodeId(1),
        to: asNodeId(3),
        term: asTerm(1),
      }),
    );
    expect(follower.status().softState.role).toBe(Role.follower);
    expect(follower.raft.messages.filter((m) => m.type === MessageType.vote)).toEqual([]);
  });
});
