// Goal: the PreVote and CheckQuorum interplay (thesis §9.6, §4.2.3, §6.4.1) and its four known
// traps, each its own named test (anchors-raft.md §5 item 4, after etcd's prevote_checkquorum,
// checkquorum and TestPreVoteWithCheckQuorum tests): (1) CheckQuorum without PreVote lets a
// partitioned node inflate its term, which forces one step-down; (2) a pre-candidate must
// forget its leader; (3) a pre-vote is answered with the request's term, and a lower-term
// pre-vote is rejected, not ignored; (4) leadership transfer bypasses the lease, and lease
// reads stop once a transfer was attempted. Also CheckQuorum step-down and the follower lease.
// Method: single Raft instances fed hand-built messages for the precise rules, and
// InMemoryCluster with partitions and ticks for the scenarios.
import { describe, expect, it } from 'vitest';
import { InMemoryCluster } from '../testing.ts';
import { makeConfig, ReadOnlyOption, type RaftConfigInput } from './config.ts';
import { MemoryStorage } from './memory_storage.ts';
import { Raft } from './raft.ts';
import {
  asIndex,
  asNodeId,
  asTerm,
  makeMessage,
  MessageType,
  Role,
  type Message,
} from './types.ts';

type Fields = Partial<Omit<Message, 'type' | 'from' | 'to' | 'term'>> & {
  type: Message['type'];
  from: number;
  to: number;
  term: number;
};

function msg(fields: Fields): Message {
  return makeMessage(fields as Parameters<typeof makeMessage>[0]);
}

function newRaft(
  id: number,
  options: { term?: number; config?: Partial<RaftConfigInput> } = {},
): Raft {
  const storage = new MemoryStorage({
    voters: [asNodeId(1), asNodeId(2), asNodeId(3)],
    learners: [],
  });
  storage.setHardState({ term: asTerm(options.term ?? 0), vote: asNodeId(0), commit: asIndex(0) });
  return new Raft(
    makeConfig({
      id: asNodeId(id),
      storage,
      randomInt: () => 0,
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 1,
      ...options.config,
    }),
  );
}

function readMessages(r: Raft): Message[] {
  r.flush();
  const out = r.messages;
  r.messages = [];
  return out;
}

function role(cluster: InMemoryCluster, id: number): Role {
  return cluster.node(id).raw.status().softState.role;
}

function term(cluster: InMemoryCluster, id: number): number {
  return cluster.node(id).raw.status().hardState.term;
}

/** Ticks every live node and settles, until a leader exists or the budget runs out. */
function tickUntilLeader(cluster: InMemoryCluster, ticksMax: number): number {
  for (let i = 0; i < ticksMax; i++) {
    const leader = cluster.leader();
    if (leader !== undefined) {
      return i;
    }
    cluster.tickAll();
    cluster.stabilize();
  }
  return ticksMax;
}

function tickAndSettle(cluster: InMemoryCluster, ticks: number): void {
  for (let i = 0; i < ticks; i++) {
    cluster.tickAll();
    cluster.stabilize();
  }
}

describe('PreVote and CheckQuorum traps', () => {
  it('Raft without PreVote lets a partitioned node inflate its term and forces one leader step-down', () => {
    // Reference: thesis §9.6 and §4.2.3; etcd raft.Step ("this disruption is inevitable") —
    // with CheckQuorum but no PreVote, an isolated node's term grows; the others ignore its
    // votes (lease), but its higher-term answer to a heartbeat makes the leader step down once.
    const cluster = new InMemoryCluster({ voters: [1, 2, 3], seed: 3, node: { preVote: false } });
    cluster.elect(1);
    cluster.isolate(3);
    tickAndSettle(cluster, 60);
    cluster.propose(1, 'written while 3 was away');
    const inflated = term(cluster, 3);
    expect(inflated).toBeGreaterThan(term(cluster, 1));
    expect(role(cluster, 1)).toBe(Role.leader);
    cluster.heal();
    // Its vote requests are ignored by nodes in lease: no answer, no term change.
    const vote = msg({
      type: MessageType.vote,
      from: 3,
      to: 2,
      term: inflated + 1,
      index: asIndex(1),
      logTerm: asTerm(1),
    });
    cluster.node(2).raw.step(vote);
    expect(cluster.node(2).raw.raft.messages).toEqual([]);
    expect(term(cluster, 2)).toBe(1);
    // The next heartbeat is answered with the inflated term: the leader steps down.
    cluster.tick(1);
    cluster.stabilize();
    expect(role(cluster, 1)).toBe(Role.follower);
    expect(term(cluster, 1)).toBeGreaterThanOrEqual(inflated);
    // The cluster recovers, and 3 (whose log is behind) does not lead.
    expect(tickUntilLeader(cluster, 100)).toBeLessThan(100);
    const leader = cluster.leader();
    expect(leader?.id).not.toBe(3);
    cluster.propose(leader?.id ?? 0, 'after');
    expect(cluster.node(3).raw.status().hardState.commit).toBe(
      leader?.raw.status().hardState.commit,
    );
  });

  it('Raft with PreVote keeps a partitioned node from inflating its term and disrupting the leader', () => {
    // Reference: thesis §9.6 — a pre-candidate only raises its term once a majority would
    // vote for it, so an isolated node rejoins without forcing an election.
    const cluster = new InMemoryCluster({ voters: [1, 2, 3], seed: 3 });
    cluster.elect(1);
    cluster.isolate(3);
    tickAndSettle(cluster, 60);
    expect(term(cluster, 3)).toBe(1);
    cluster.heal();
    tickAndSettle(cluster, 30);
    expect(role(cluster, 1)).toBe(Role.leader);
    expect(term(cluster, 1)).toBe(1);
    expect(cluster.node(3).raw.status().softState.leader).toBe(1);
  });

  it('Raft.becomePreCandidate forgets the leader so followers of a dead leader can elect another', () => {
    // Reference: thesis §9.6; etcd #8334 TestPreVoteWithCheckQuorum, etcd #9586 — if a
    // pre-candidate kept its leader it would still feel in lease and refuse the others'
    // pre-votes, and no leader could be elected.
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    cluster.elect(1);
    cluster.crash(1);
    cluster.node(3).raw.campaign();
    cluster.stabilize();
    expect(role(cluster, 3)).toBe(Role.preCandidate);
    expect(cluster.node(3).raw.status().softState.leader).toBe(0);
    // Node 2 still heard from 1 recently and ignored 3; but 3 no longer feels led, so it
    // grants 2's pre-vote and vote.
    cluster.node(2).raw.campaign();
    cluster.stabilize();
    expect(role(cluster, 2)).toBe(Role.leader);
    expect(role(cluster, 3)).toBe(Role.follower);
  });

  it('Raft with PreVote and CheckQuorum elects a new leader by ticks alone after the leader dies', () => {
    // Reference: thesis §9.6 — liveness of the combination, over several seeds.
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const cluster = new InMemoryCluster({ voters: [1, 2, 3, 4, 5], seed });
      cluster.elect(1);
      tickAndSettle(cluster, 3);
      cluster.crash(1);
      const ticks = tickUntilLeader(cluster, 200);
      expect(ticks, `seed ${seed}`).toBeLessThan(200);
      expect(cluster.leader()?.id).not.toBe(1);
    }
  });

  it('Raft.step grants a pre-vote with the request term and keeps its own term and vote', () => {
    // Reference: thesis §9.6; etcd raft.Step — the pre-candidate discards answers that do not
    // carry its proposed term, and a pre-vote must never change the voter's state.
    const r = newRaft(1, { term: 1 });
    r.step(msg({ type: MessageType.preVote, from: 2, to: 1, term: 2 }));
    expect(readMessages(r)).toEqual([
      msg({ type: MessageType.preVoteResponse, from: 1, to: 2, term: 2 }),
    ]);
    expect(r.term).toBe(1);
    expect(r.vote).toBe(0);
    expect(r.role).toBe(Role.follower);
  });

  it('Raft.step rejects, not ignores, a pre-vote from a lower term and answers with its own term', () => {
    // Reference: etcd raft.Step — ignoring lower-term pre-votes can deadlock a cluster that
    // mixes PreVote with nodes whose term was inflated; the rejection carries our term.
    const r = newRaft(1, { term: 5 });
    r.step(msg({ type: MessageType.preVote, from: 2, to: 1, term: 3 }));
    expect(readMessages(r)).toEqual([
      msg({ type: MessageType.preVoteResponse, from: 1, to: 2, term: 5, reject: true }),
    ]);
    expect(r.term).toBe(5);
  });

  it('Raft.step makes a pre-candidate adopt the higher term of a rejection and become follower', () => {
    // Reference: etcd raft.Step — "if it is not [granted], the term comes from the node that
    // rejected our vote so we should become a follower at the new term".
    const r = newRaft(1, { term: 3 });
    r.hup('election');
    expect(r.role).toBe(Role.preCandidate);
    expect(readMessages(r).map((m) => [m.type, m.term])).toEqual([
      [MessageType.preVote, 4],
      [MessageType.preVote, 4],
    ]);
    r.step(msg({ type: MessageType.preVoteResponse, from: 2, to: 1, term: 5, reject: true }));
    expect(r.role).toBe(Role.follower);
    expect(r.term).toBe(5);
  });

  it('Raft.step counts granted pre-votes at the proposed term and only then raises its term', () => {
    // Reference: thesis §9.6 — the term rises when the pre-election is won, not before.
    const r = newRaft(1, { term: 3 });
    r.hup('election');
    readMessages(r);
    expect(r.term).toBe(3);
    r.step(msg({ type: MessageType.preVoteResponse, from: 2, to: 1, term: 4 }));
    expect(r.role).toBe(Role.candidate);
    expect(r.term).toBe(4);
    expect(readMessages(r).map((m) => [m.type, m.to, m.term])).toEqual([
      [MessageType.vote, 2, 4],
      [MessageType.vote, 3, 4],
    ]);
  });

  it('Raft.transferLeader bypasses the follower lease with the leaderTransfer flag', () => {
    // Reference: thesis §3.10 and §4.2.3 — a server in lease ignores votes unless the leader
    // itself asked for the election (etcd campaignTransfer).
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    cluster.elect(1);
    tickAndSettle(cluster, 2);
    const leader = cluster.node(1).raw;
    expect(leader.transferLeader(asNodeId(2))).toEqual({ ok: true });
    const seen = cluster.stabilize();
    const votes = seen.filter((m) => m.type === MessageType.vote);
    expect(votes.length).toBeGreaterThan(0);
    expect(votes.every((m) => m.leaderTransfer)).toBe(true);
    expect(seen.some((m) => m.type === MessageType.preVote)).toBe(false);
    expect(role(cluster, 2)).toBe(Role.leader);
    expect(term(cluster, 3)).toBe(2);
  });

  it('Raft.transferLeader ends the leader read lease for the rest of its term', () => {
    // Reference: thesis §6.4.1 and §3.10 — a transferee may be elected before the old lease
    // would expire, so the old leader must stop serving lease reads once it sent TimeoutNow.
    const cluster = new InMemoryCluster({
      voters: [1, 2, 3],
      node: { readOnlyOption: ReadOnlyOption.leaseBased },
    });
    cluster.elect(1);
    tickAndSettle(cluster, 1);
    const leader = cluster.node(1).raw;
    expect(leader.raft.holdsReadLease()).toBe(true);
    cluster.filters.push((m) => m.type !== MessageType.timeoutNow);
    leader.transferLeader(asNodeId(2));
    cluster.stabilize();
    expect(leader.raft.transferAttempted).toBe(true);
    expect(leader.raft.holdsReadLease()).toBe(false);
    leader.readIndex(new Uint8Array([1]));
    expect(leader.raft.readStates).toEqual([]);
  });
});

describe('CheckQuorum', () => {
  it('Raft.tick makes a partitioned leader step down within two election timeouts', () => {
    // Reference: thesis §6.2 — a leader that has not heard from a quorum within an election
    // timeout steps down, so clients can find the new leader. Activity is checked once per
    // election timeout (etcd MsgCheckQuorum), so the step-down comes at the end of the first
    // full timeout without contact.
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    cluster.elect(1);
    cluster.isolate(1);
    let ticks = 0;
    while (role(cluster, 1) === Role.leader && ticks < 100) {
      cluster.tick(1);
      cluster.stabilize();
      ticks++;
    }
    expect(role(cluster, 1)).toBe(Role.follower);
    expect(ticks).toBeGreaterThanOrEqual(10);
    expect(ticks).toBeLessThanOrEqual(20);
    expect(term(cluster, 1)).toBe(1);
  });

  it('Raft.tick keeps a leader that hears from a quorum over many election timeouts', () => {
    const cluster = new InMemoryCluster({ voters: [1, 2, 3, 4, 5] });
    cluster.elect(1);
    cluster.isolate(4);
    cluster.isolate(5);
    tickAndSettle(cluster, 100);
    expect(role(cluster, 1)).toBe(Role.leader);
    expect(term(cluster, 1)).toBe(1);
  });

  it('Raft.tick keeps no leader without CheckQuorum even when it is partitioned', () => {
    // The counterpart: the step-down is CheckQuorum's doing.
    const cluster = new InMemoryCluster({ voters: [1, 2, 3], node: { checkQuorum: false } });
    cluster.elect(1);
    cluster.isolate(1);
    for (let i = 0; i < 50; i++) {
      cluster.tick(1);
    }
    expect(role(cluster, 1)).toBe(Role.leader);
  });
});

describe('follower lease', () => {
  /** A follower of leader 2 in term 1 that just heard from it. */
  function ledFollower(config: Partial<RaftConfigInput> = {}): Raft {
    const r = newRaft(1, { config });
    r.step(msg({ type: MessageType.heartbeat, from: 2, to: 1, term: 1 }));
    readMessages(r);
    return r;
  }

  it('Raft.step makes a follower in lease ignore a higher-term vote', () => {
    // Reference: thesis §4.2.3 — ignore RequestVote within the minimum election timeout of
    // hearing from a current leader.
    const r = ledFollower();
    r.step(msg({ type: MessageType.vote, from: 3, to: 1, term: 2 }));
    expect(readMessages(r)).toEqual([]);
    expect(r.term).toBe(1);
    expect(r.vote).toBe(0);
    expect(r.leader).toBe(2);
  });

  it('Raft.step makes a follower in lease ignore a higher-term pre-vote', () => {
    const r = ledFollower();
    r.step(msg({ type: MessageType.preVote, from: 3, to: 1, term: 2 }));
    expect(readMessages(r)).toEqual([]);
    expect(r.term).toBe(1);
  });

  it('Raft.step makes a follower in lease grant a higher-term vote that carries leaderTransfer', () => {
    // Reference: thesis §4.2.3 — the flag lets a leadership transfer disrupt on purpose.
    const r = ledFollower();
    r.step(msg({ type: MessageType.vote, from: 3, to: 1, term: 2, leaderTransfer: true }));
    expect(readMessages(r)).toEqual([
      msg({ type: MessageType.voteResponse, from: 1, to: 3, term: 2 }),
    ]);
    expect(r.term).toBe(2);
    expect(r.vote).toBe(3);
  });

  it('Raft.step makes a follower consider a vote once the lease ran out', () => {
    const r = ledFollower({ randomInt: () => 5 });
    for (let i = 0; i < 10; i++) {
      r.tick();
    }
    expect(r.role).toBe(Role.follower);
    r.step(msg({ type: MessageType.vote, from: 3, to: 1, term: 2 }));
    expect(readMessages(r)).toEqual([
      msg({ type: MessageType.voteResponse, from: 1, to: 3, term: 2 }),
    ]);
  });

  it('Raft.peerLost ends the lease of the lost leader: the follower grants a pre-vote at once', () => {
    const r = ledFollower();
    r.peerLost(asNodeId(2));
    r.step(msg({ type: MessageType.preVote, from: 3, to: 1, term: 2 }));
    expect(readMessages(r)).toEqual([
      msg({ type: MessageType.preVoteResponse, from: 1, to: 3, term: 2 }),
    ]);
    expect(r.term).toBe(1);
  });

  it('Raft.peerLost of a peer that is not the leader changes nothing', () => {
    const r = ledFollower();
    r.peerLost(asNodeId(3));
    r.step(msg({ type: MessageType.preVote, from: 3, to: 1, term: 2 }));
    expect(readMessages(r)).toEqual([]);
    expect(r.leader).toBe(2);
  });

  it('Raft.peerLost makes a follower campaign within the randomized part of its timeout', () => {
    // randomInt 5: the timeout is 15 ticks; 10 of them are skipped, 5 remain.
    const r = ledFollower({ randomInt: () => 5 });
    r.peerLost(asNodeId(2));
    for (let i = 0; i < 4; i++) {
      r.tick();
    }
    expect(r.role).toBe(Role.follower);
    r.tick();
    expect(r.role).toBe(Role.preCandidate);
  });

  it('Raft.peerLost on both followers elects a new leader after a crash in under half the ticks', () => {
    /** Ticks from the crash of leader 1 to a new leader, per seed. */
    function ticksToLeader(reportLost: boolean): number[] {
      return Array.from({ length: 30 }, (_, i) => {
        const cluster = new InMemoryCluster({ voters: [1, 2, 3], seed: i + 1 });
        cluster.elect(1);
        tickAndSettle(cluster, 3);
        cluster.crash(1);
        if (reportLost) {
          cluster.node(2).raw.reportPeerLost(asNodeId(1));
          cluster.node(3).raw.reportPeerLost(asNodeId(1));
        }
        return tickUntilLeader(cluster, 200);
      });
    }
    const sum = (ticks: number[]): number => ticks.reduce((a, b) => a + b, 0);
    const told = ticksToLeader(true);
    const untold = ticksToLeader(false);
    // Untold, a follower waits out a whole timeout (10 ticks) first; told, only its random part.
    expect(Math.min(...untold)).toBeGreaterThanOrEqual(10);
    expect(Math.min(...told)).toBeLessThan(10);
    expect(sum(told)).toBeLessThan(sum(untold) / 2);
    // A split vote still costs one more randomized timeout, never more than two in these seeds.
    expect(Math.max(...told)).toBeLessThan(20);
  });

  it('Raft.step makes a follower without CheckQuorum grant a higher-term vote at once', () => {
    const r = ledFollower({ checkQuorum: false });
    r.step(msg({ type: MessageType.vote, from: 3, to: 1, term: 2 }));
    expect(readMessages(r)).toEqual([
      msg({ type: MessageType.voteResponse, from: 1, to: 3, term: 2 }),
    ]);
  });
});
