// Goal: linearizable reads without log writes (thesis §6.4; etcd read_only.go): ReadIndex needs
// a heartbeat round answered by a quorum; a new leader holds reads until an entry of its term
// commits; followers forward reads to the leader; many reads share one round; lease reads
// (thesis §6.4.1) are answered without a round only while the lease, timed from the send of
// the heartbeat a quorum answered, holds, and never after a transfer attempt; a restarted node
// in lease mode refuses votes for an election timeout. Method: InMemoryCluster with filters
// for end-to-end reads; single Raft instances with hand-built heartbeat responses where the
// exact tick matters.
import { describe, expect, it } from 'vitest';
import { InMemoryCluster, persistUnstable } from '../testing.ts';
import { leaseTicks, makeConfig, ReadOnlyOption, type RaftConfigInput } from './config.ts';
import { RaftErrorCode } from './errors.ts';
import { MemoryStorage } from './memory_storage.ts';
import { Raft } from './raft.ts';
import { asIndex, asNodeId, asTerm, makeMessage, MessageType, type Message } from './types.ts';

const lease = { readOnlyOption: ReadOnlyOption.leaseBased } as const;

function ctx(n: number): Uint8Array {
  return new Uint8Array([n]);
}

type Fields = Partial<Omit<Message, 'type' | 'from' | 'to' | 'term'>> & {
  type: Message['type'];
  from: number;
  to: number;
  term: number;
};

function msg(fields: Fields): Message {
  return makeMessage(fields as Parameters<typeof makeMessage>[0]);
}

/** The messages the node would send now, once its entries are persisted. */
function readMessages(r: Raft): Message[] {
  persistUnstable(r);
  r.flush();
  const out = r.messages;
  r.messages = [];
  return out;
}

function ack(m: Message): Message {
  return msg({
    type: MessageType.appendResponse,
    from: m.to,
    to: m.from,
    term: m.term,
    index: asIndex(m.index + m.entries.length),
  });
}

function newRaft(
  id: number,
  options: { voters?: number[]; term?: number; config?: Partial<RaftConfigInput> } = {},
): Raft {
  const storage = new MemoryStorage({
    voters: (options.voters ?? [1, 2, 3]).map(asNodeId),
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

/** Leader 1 whose no-op every follower acknowledged. */
function committedLeader(
  options: { voters?: number[]; config?: Partial<RaftConfigInput> } = {},
): Raft {
  const r = newRaft(1, options);
  r.becomeCandidate();
  r.becomeLeader();
  for (const m of readMessages(r)) {
    r.step(ack(m));
  }
  readMessages(r);
  expect(r.committedEntryInCurrentTerm()).toBe(true);
  return r;
}

function heartbeatAck(
  r: Raft,
  ack: { from: number; context: Uint8Array; sentTick?: number },
): Message {
  const sentTick = ack.sentTick ?? r.ticks;
  return msg({
    type: MessageType.heartbeatResponse,
    from: ack.from,
    to: 1,
    term: r.term,
    context: ack.context,
    index: asIndex(sentTick),
  });
}

function readIndexes(r: Raft): [number, number][] {
  return r.readStates.map((s) => [s.index, s.context[0] ?? -1]);
}

describe('safe ReadIndex', () => {
  it('Raft.readIndex answers only after a quorum answered the heartbeat round', () => {
    // Reference: thesis §6.4 step 3 — the leader confirms it is still the leader by a round of
    // heartbeats to a majority before it serves the read.
    const r = committedLeader({ voters: [1, 2, 3, 4, 5] });
    expect(r.readIndex(ctx(7))).toEqual({ ok: true });
    expect(r.readStates).toEqual([]);
    const round = readMessages(r);
    expect(round.map((m) => [m.type, m.to, m.context[0]])).toEqual([
      [MessageType.heartbeat, 2, 7],
      [MessageType.heartbeat, 3, 7],
      [MessageType.heartbeat, 4, 7],
      [MessageType.heartbeat, 5, 7],
    ]);
    r.step(heartbeatAck(r, { from: 2, context: ctx(7) }));
    expect(r.readStates).toEqual([]);
    r.step(heartbeatAck(r, { from: 3, context: ctx(7) }));
    expect(readIndexes(r)).toEqual([[1, 7]]);
  });

  it('Raft.readIndex ignores acknowledgements of another round or without context', () => {
    const r = committedLeader();
    r.readIndex(ctx(7));
    readMessages(r);
    r.step(heartbeatAck(r, { from: 2, context: ctx(8) }));
    r.step(heartbeatAck(r, { from: 3, context: new Uint8Array(0) }));
    expect(r.readStates).toEqual([]);
    r.step(heartbeatAck(r, { from: 2, context: ctx(7) }));
    expect(readIndexes(r)).toEqual([[1, 7]]);
  });

  it('Raft.readIndex on a new leader is held until an entry of its term commits', () => {
    // Reference: thesis §6.4 step 1 — until the no-op of its term commits, the leader's
    // commit index may be behind what an earlier leader committed.
    const r = newRaft(1);
    r.becomeCandidate();
    r.becomeLeader();
    const appends = readMessages(r);
    r.readIndex(ctx(1));
    expect(readMessages(r).some((m) => m.type === MessageType.heartbeat)).toBe(false);
    const [first] = appends;
    if (first !== undefined) {
      r.step(ack(first));
    }
    const round = readMessages(r).filter((m) => m.type === MessageType.heartbeat);
    expect(round.map((m) => m.context[0])).toEqual([1, 1]);
    r.step(heartbeatAck(r, { from: 2, context: ctx(1) }));
    expect(readIndexes(r)).toEqual([[1, 1]]);
  });

  it('Raft.readIndex answers at once on a single-voter cluster', () => {
    const r = committedLeader({ voters: [1] });
    r.readIndex(ctx(3));
    expect(readIndexes(r)).toEqual([[1, 3]]);
  });

  it('Raft.readIndex batches many reads made between two flushes into one round', () => {
    // Reference: thesis §6.4 — one heartbeat round can confirm many queued reads.
    const r = committedLeader();
    for (let i = 1; i <= 20; i++) {
      r.readIndex(ctx(i));
    }
    const round = readMessages(r);
    expect(round.map((m) => [m.type, m.to, m.context[0]])).toEqual([
      [MessageType.heartbeat, 2, 20],
      [MessageType.heartbeat, 3, 20],
    ]);
    r.step(heartbeatAck(r, { from: 2, context: ctx(20) }));
    expect(r.readStates.map((s) => s.context[0])).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    expect(r.readStates.every((s) => s.index === 1)).toBe(true);
  });

  it('Raft.readIndex uses the commit index at the time of the request', () => {
    const r = committedLeader();
    r.readIndex(ctx(1));
    readMessages(r);
    r.propose([new Uint8Array([9])]);
    for (const m of readMessages(r).filter((x) => x.type === MessageType.append)) {
      r.step(ack(m));
    }
    expect(r.log.committed).toBe(2);
    r.step(heartbeatAck(r, { from: 2, context: ctx(1) }));
    expect(readIndexes(r)).toEqual([[1, 1]]);
  });

  it('RawNode.readIndex on a follower is forwarded to the leader and answered there', () => {
    // Reference: thesis §6.4 — a follower asks the leader for the read index, then waits to
    // apply up to it itself.
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    cluster.elect(1);
    cluster.propose(1, 'x');
    expect(cluster.node(3).raw.readIndex(ctx(5))).toEqual({ ok: true });
    const seen = cluster.stabilize();
    expect(seen.filter((m) => m.type === MessageType.readIndex).map((m) => [m.from, m.to])).toEqual(
      [[3, 1]],
    );
    expect(cluster.node(3).readStates).toEqual([{ index: 2, context: ctx(5) }]);
    expect(cluster.node(1).readStates).toEqual([]);
  });

  it('RawNode.readIndex on a follower without a leader answers not leader', () => {
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    expect(cluster.node(2).raw.readIndex(ctx(1))).toMatchObject({
      ok: false,
      code: RaftErrorCode.notLeader,
      leaderHint: 0,
    });
  });

  it('RawNode.readIndex on a partitioned leader is never answered', () => {
    // Reference: thesis §6.4 — a deposed leader that cannot reach a majority must not serve
    // a read that may be stale.
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    cluster.elect(1);
    cluster.isolate(1);
    cluster.node(1).raw.readIndex(ctx(1));
    for (let i = 0; i < 30; i++) {
      cluster.tickAll();
      cluster.stabilize();
    }
    expect(cluster.node(1).readStates).toEqual([]);
  });
});

describe('lease-based ReadIndex', () => {
  it('Raft.readIndex answers at once while the lease holds', () => {
    // Reference: thesis §6.4.1 — with bounded clock drift the leader may skip the round.
    const r = committedLeader({ config: lease });
    r.tick();
    for (const m of readMessages(r)) {
      r.step(heartbeatAck(r, { from: m.to, context: m.context }));
    }
    expect(r.holdsReadLease()).toBe(true);
    r.readIndex(ctx(4));
    expect(readIndexes(r)).toEqual([[1, 4]]);
    expect(readMessages(r).filter((m) => m.context.byteLength > 0)).toEqual([]);
  });

  it('Raft.holdsReadLease times the lease from the send tick of the heartbeat a quorum answered', () => {
    // The ack may arrive late; the lease still starts when the heartbeat left the leader,
    // and lasts leaseTicks ticks.
    const r = committedLeader({ config: lease });
    const span = leaseTicks(r.config);
    r.tick();
    const sentTick = r.ticks;
    const beats = readMessages(r);
    for (let i = 0; i < 3; i++) {
      r.tick();
    }
    readMessages(r);
    r.step(heartbeatAck(r, { from: beats[0]?.to ?? 2, context: new Uint8Array(0), sentTick }));
    expect(r.holdsReadLease()).toBe(true);
    while (r.ticks < sentTick + span - 1) {
      r.tick();
    }
    expect(r.holdsReadLease()).toBe(true);
    r.tick();
    expect(r.holdsReadLease()).toBe(false);
  });

  it('Raft.holdsReadLease ignores an echoed tick from the future', () => {
    const r = committedLeader({ config: lease });
    r.step(heartbeatAck(r, { from: 2, context: new Uint8Array(0), sentTick: r.ticks + 1000 }));
    expect(r.holdsReadLease()).toBe(false);
  });

  it('RawNode.readIndex after the lease expired needs a heartbeat round again', () => {
    // Reference: thesis §6.4.1 — once leaseTicks pass without a quorum's answer, the read
    // falls back to the safe protocol and is answered after the round.
    const cluster = new InMemoryCluster({ voters: [1, 2, 3], node: lease });
    cluster.elect(1);
    const leader = cluster.node(1).raw;
    cluster.tick(1);
    cluster.stabilize();
    expect(leader.raft.holdsReadLease()).toBe(true);
    cluster.filters.push((m) => m.type !== MessageType.heartbeatResponse);
    for (let i = 0; i < leaseTicks(leader.raft.config); i++) {
      cluster.tick(1);
      cluster.stabilize();
    }
    expect(leader.raft.holdsReadLease()).toBe(false);
    expect(leader.status().softState.role).toBe('leader');
    leader.readIndex(ctx(9));
    cluster.stabilize();
    expect(cluster.node(1).readStates).toEqual([]);
    cluster.heal();
    cluster.tick(1);
    cluster.stabilize();
    expect(cluster.node(1).readStates.map((s) => s.context[0])).toEqual([9]);
  });

  it('RawNode.readIndex after a transfer attempt is not answered from the lease', () => {
    // Reference: thesis §6.4.1 and §3.10 — the transferee may lead before the lease ends.
    const cluster = new InMemoryCluster({ voters: [1, 2, 3], node: lease });
    cluster.elect(1);
    cluster.tick(1);
    cluster.stabilize();
    const leader = cluster.node(1).raw;
    cluster.filters.push((m) => m.type !== MessageType.timeoutNow);
    leader.transferLeader(asNodeId(2));
    cluster.stabilize();
    leader.readIndex(ctx(2));
    expect(leader.raft.readStates).toEqual([]);
  });

  it('Raft restarted in lease mode refuses votes for an election timeout', () => {
    // Reference: thesis §6.4.1 and §4.2.3 — before a crash this node may have answered a
    // heartbeat that gave the leader a lease; it must not help elect another leader before
    // that lease is over.
    const r = newRaft(1, { term: 2, config: { ...lease, randomInt: () => 9 } });
    expect(r.restartQuietTicks).toBe(10);
    r.step(msg({ type: MessageType.vote, from: 2, to: 1, term: 3 }));
    r.step(msg({ type: MessageType.preVote, from: 3, to: 1, term: 3 }));
    expect(readMessages(r)).toEqual([]);
    expect(r.term).toBe(2);
    for (let i = 0; i < 10; i++) {
      r.tick();
    }
    r.step(msg({ type: MessageType.vote, from: 2, to: 1, term: 3 }));
    expect(readMessages(r)).toEqual([
      msg({ type: MessageType.voteResponse, from: 1, to: 2, term: 3 }),
    ]);
  });

  it('Raft restarted in lease mode still grants a vote that carries leaderTransfer', () => {
    const r = newRaft(1, { term: 2, config: lease });
    r.step(msg({ type: MessageType.vote, from: 2, to: 1, term: 3, leaderTransfer: true }));
    expect(readMessages(r)).toEqual([
      msg({ type: MessageType.voteResponse, from: 1, to: 2, term: 3 }),
    ]);
  });

  it('Raft restarted in safe mode or at term 0 has no quiet period', () => {
    expect(newRaft(1, { term: 2 }).restartQuietTicks).toBe(0);
    expect(newRaft(1, { term: 0, config: lease }).restartQuietTicks).toBe(0);
    const r = newRaft(1, { term: 2 });
    r.step(msg({ type: MessageType.vote, from: 2, to: 1, term: 3 }));
    expect(readMessages(r)).toEqual([
      msg({ type: MessageType.voteResponse, from: 1, to: 2, term: 3 }),
    ]);
  });
});
