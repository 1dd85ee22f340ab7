// Goal: flow control between a leader and each follower (etcd raft_flow_control_test.go,
// design.md, testdata/replicate_pause.txt): probe sends one append per heartbeat until the
// follower's match is found; replicate pipelines appends up to inflightMsgsMax messages and
// inflightSizeBytesMax bytes; proposals made between two ready() calls leave as one append per
// follower (group commit); rejections backtrack a whole term per round trip (Raft §5.3); the
// uncommitted log is capped by uncommittedSizeBytesMax; and a window whose messages were all
// lost recovers. Method: a leader Raft stepped with hand-built responses, for exact message
// counts, and InMemoryCluster with filters for the end-to-end cases.
import { describe, expect, it } from 'vitest';
import { InMemoryCluster, RecordingStateMachine } from '../testing.ts';
import { makeConfig, type RaftConfigInput } from './config.ts';
import { RaftErrorCode } from './errors.ts';
import { MemoryStorage } from './memory_storage.ts';
import { ProgressState } from './progress.ts';
import { Raft } from './raft.ts';
import {
  asIndex,
  asNodeId,
  asTerm,
  EntryType,
  makeMessage,
  MessageType,
  type Entry,
  type Message,
} from './types.ts';

/** What node id applied, read from its RecordingStateMachine. */
function recorded(cluster: InMemoryCluster, id: number): string[] {
  const stateMachine = cluster.node(id).stateMachine;
  if (!(stateMachine instanceof RecordingStateMachine)) {
    throw new Error(`Node ${id} does not record what it applies`);
  }
  return stateMachine.applied;
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

function entry(index: number, term: number, sizeBytes = 0): Entry {
  return {
    index: asIndex(index),
    term: asTerm(term),
    type: EntryType.normal,
    data: new Uint8Array(sizeBytes),
  };
}

function entries(first: number, ...terms: number[]): Entry[] {
  return terms.map((term, i) => entry(first + i, term));
}

function newRaft(
  id: number,
  options: {
    voters?: number[];
    log?: Entry[];
    term?: number;
    config?: Partial<RaftConfigInput>;
  } = {},
): Raft {
  const storage = new MemoryStorage({
    voters: (options.voters ?? [1, 2]).map(asNodeId),
    learners: [],
  });
  storage.append(options.log ?? []);
  storage.setHardState({ term: asTerm(options.term ?? 0), vote: asNodeId(0), commit: asIndex(0) });
  return new Raft(
    makeConfig({
      id: asNodeId(id),
      storage,
      randomInt: () => 0,
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 1,
      preVote: false,
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

function appendsTo(messages: readonly Message[], to: number): Message[] {
  return messages.filter((m) => m.type === MessageType.append && m.to === to);
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

/** Leader 1 of {1, 2} whose follower 2 acknowledged the no-op, so 2 is in replicate state. */
function replicatingLeader(config: Partial<RaftConfigInput> = {}): Raft {
  const r = newRaft(1, { config });
  r.becomeCandidate();
  r.becomeLeader();
  for (const m of readMessages(r)) {
    r.step(ack(m));
  }
  readMessages(r);
  expect(r.progress.get(asNodeId(2))?.state).toBe(ProgressState.replicate);
  return r;
}

function proposeBytes(r: Raft, count: number, sizeBytes: number): void {
  for (let i = 0; i < count; i++) {
    expect(r.propose([new Uint8Array(sizeBytes)])).toEqual({ ok: true });
  }
}

describe('probe state', () => {
  it('Raft in probe state sends one append per heartbeat until the follower answers', () => {
    // Reference: Raft §5.3 — until the leader knows where the logs agree, it sends one probe at
    // a time (etcd design.md "probe").
    const r = newRaft(1);
    r.becomeCandidate();
    r.becomeLeader();
    expect(appendsTo(readMessages(r), 2)).toHaveLength(1);
    expect(r.progress.get(asNodeId(2))?.state).toBe(ProgressState.probe);
    proposeBytes(r, 3, 1);
    expect(appendsTo(readMessages(r), 2)).toHaveLength(0);
    r.tick();
    const beat = readMessages(r);
    expect(beat.map((m) => m.type)).toEqual([MessageType.heartbeat]);
    expect(appendsTo(beat, 2)).toHaveLength(0);
    r.step(
      msg({
        type: MessageType.heartbeatResponse,
        from: 2,
        to: 1,
        term: 1,
        index: asIndex(r.ticks),
      }),
    );
    const probes = appendsTo(readMessages(r), 2);
    expect(probes).toHaveLength(1);
    proposeBytes(r, 1, 1);
    expect(appendsTo(readMessages(r), 2)).toHaveLength(0);
  });

  it('Raft in probe state sends no more than one append per heartbeat interval however many heartbeat responses arrive', () => {
    // Regression: every ReadIndex round broadcasts a heartbeat, so a follower restarted under
    // read load answers hundreds of heartbeats a second. Each answer let another full probe
    // through, and ~600 redundant probes queued ahead of the replicate window on the bulk lane
    // stalled the follower for ~10 s (reads on it timed out at requestTimeoutMs).
    const r = newRaft(1, { config: { heartbeatIntervalTicks: 2 } });
    r.becomeCandidate();
    r.becomeLeader();
    expect(appendsTo(readMessages(r), 2)).toHaveLength(1);
    proposeBytes(r, 3, 1);
    readMessages(r);
    const heartbeatResponse = (): Message =>
      msg({
        type: MessageType.heartbeatResponse,
        from: 2,
        to: 1,
        term: 1,
        index: asIndex(r.ticks),
        context: new Uint8Array([1]),
      });
    let probes = 0;
    for (let tick = 0; tick < 6; tick++) {
      for (let i = 0; i < 20; i++) {
        r.step(heartbeatResponse());
        probes += appendsTo(readMessages(r), 2).length;
      }
      r.tick();
      readMessages(r);
    }
    // Six ticks at two ticks per heartbeat interval: probes at ticks 2 and 4, none in between.
    expect(probes).toBe(2);
    expect(r.progress.get(asNodeId(2))?.state).toBe(ProgressState.probe);
  });

  it('Raft in probe state moves to replicate once a probe is accepted', () => {
    const r = newRaft(1);
    r.becomeCandidate();
    r.becomeLeader();
    const [probe] = appendsTo(readMessages(r), 2);
    expect(probe).toBeDefined();
    if (probe !== undefined) {
      r.step(ack(probe));
    }
    const progress = r.progress.get(asNodeId(2));
    expect(progress?.state).toBe(ProgressState.replicate);
    expect(progress?.match).toBe(1);
  });

  it('Raft in probe state sends the next probe at once after a rejection', () => {
    // Reference: Raft §5.3 — "after a rejection, the leader decrements nextIndex and retries".
    const r = newRaft(1, { log: entries(1, 1, 1, 1), term: 1 });
    r.becomeCandidate();
    r.becomeLeader();
    const [probe] = appendsTo(readMessages(r), 2);
    expect(probe?.index).toBe(3);
    r.step(
      msg({
        type: MessageType.appendResponse,
        from: 2,
        to: 1,
        term: 2,
        index: asIndex(3),
        reject: true,
        rejectHint: asIndex(1),
        logTerm: asTerm(1),
      }),
    );
    const retry = appendsTo(readMessages(r), 2);
    expect(retry.map((m) => m.index)).toEqual([1]);
  });
});

describe('replicate state', () => {
  it('Raft in replicate state pipelines appends up to inflightMsgsMax', () => {
    // etcd raft_flow_control_test.go TestMsgAppFlowControlFull: the window bounds messages in
    // flight; each acknowledgement frees room for one more.
    const r = replicatingLeader({ inflightMsgsMax: 3, messageSizeBytesMax: 1 });
    proposeBytes(r, 10, 1);
    const first = appendsTo(readMessages(r), 2);
    expect(first.map((m) => m.entries.length)).toEqual([1, 1, 1]);
    expect(r.progress.get(asNodeId(2))?.isPaused()).toBe(true);
    proposeBytes(r, 1, 1);
    expect(appendsTo(readMessages(r), 2)).toHaveLength(0);
    const [oldest] = first;
    if (oldest !== undefined) {
      r.step(ack(oldest));
    }
    const more = appendsTo(readMessages(r), 2);
    expect(more).toHaveLength(1);
    expect(r.progress.get(asNodeId(2))?.inflights.count()).toBe(3);
  });

  it('Raft in replicate state frees every message up to an acknowledged index', () => {
    // etcd TestMsgAppFlowControlMoveForward: one ack covers every earlier message.
    const r = replicatingLeader({ inflightMsgsMax: 3, messageSizeBytesMax: 1 });
    proposeBytes(r, 10, 1);
    const sent = appendsTo(readMessages(r), 2);
    const last = sent[sent.length - 1];
    if (last !== undefined) {
      r.step(ack(last));
    }
    expect(appendsTo(readMessages(r), 2)).toHaveLength(3);
  });

  it('Raft in replicate state pipelines appends up to inflightSizeBytesMax', () => {
    // etcd MaxInflightBytes: the window is full once the bytes in flight reach the limit.
    const r = replicatingLeader({
      inflightMsgsMax: 100,
      inflightSizeBytesMax: 8,
      messageSizeBytesMax: 4,
    });
    proposeBytes(r, 10, 4);
    const sent = appendsTo(readMessages(r), 2);
    expect(sent.map((m) => m.entries.length)).toEqual([1, 1]);
    expect(r.progress.get(asNodeId(2))?.inflights.sizeBytes()).toBe(8);
    const [oldest] = sent;
    if (oldest !== undefined) {
      r.step(ack(oldest));
    }
    expect(appendsTo(readMessages(r), 2)).toHaveLength(1);
  });

  it('Raft in replicate state sends a commit-only append without taking a window slot', () => {
    // With a window of one, an empty append that only carries the commit must not stall the
    // next proposal.
    const cluster = new InMemoryCluster({ voters: [1, 2, 3], node: { inflightMsgsMax: 1 } });
    cluster.elect(1);
    for (let i = 0; i < 5; i++) {
      cluster.propose(1, `v${i}`);
    }
    for (const id of [1, 2, 3]) {
      expect(recorded(cluster, id)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
    }
  });

  it('Raft in replicate state recovers when every append of a full window was lost', () => {
    // etcd progress.go: a heartbeat response lets one append through a full window, so lost
    // messages are found out (the follower rejects) instead of stalling the follower forever.
    const cluster = new InMemoryCluster({
      voters: [1, 2, 3],
      node: { inflightMsgsMax: 4, messageSizeBytesMax: 1 },
    });
    cluster.elect(1);
    cluster.propose(1, 'a');
    cluster.filters.push((m) => !(m.to === 3 && m.type === MessageType.append));
    for (let i = 0; i < 10; i++) {
      cluster.propose(1, `v${i}`);
    }
    cluster.heal();
    for (let i = 0; i < 20; i++) {
      cluster.tickAll();
      cluster.stabilize();
    }
    const leaderLast = cluster.node(1).raw.status().lastIndex;
    expect(cluster.node(3).raw.status().lastIndex).toBe(leaderLast);
    expect(cluster.node(3).raw.status().hardState.commit).toBe(leaderLast);
  });

  it('RawNode.ready sends many proposals made between two ready calls as one append per follower', () => {
    // Group commit (etcd README "Batching log entries"): one Ready, one fsync, one append.
    const cluster = new InMemoryCluster({ voters: [1, 2, 3] });
    cluster.elect(1);
    cluster.propose(1, 'warm-up');
    const leader = cluster.node(1).raw;
    for (let i = 0; i < 50; i++) {
      expect(leader.propose([new TextEncoder().encode(`p${i}`)]).ok).toBe(true);
    }
    const ready = leader.ready();
    expect(ready.entries).toHaveLength(50);
    const appends = ready.messages.filter((m) => m.type === MessageType.append);
    expect(appends.map((m) => [m.to, m.entries.length])).toEqual([
      [2, 50],
      [3, 50],
    ]);
    leader.advance(ready);
  });

  it('Raft.propose sends nothing until the next flush', () => {
    const r = replicatingLeader();
    proposeBytes(r, 5, 1);
    expect(r.messages).toEqual([]);
    expect(appendsTo(readMessages(r), 2).map((m) => m.entries.length)).toEqual([5]);
  });
});

describe('fast backtracking', () => {
  /** Leader at term 8 syncs a follower; returns how many rejections it took. */
  function rejectionsToSync(
    leaderTerms: number[],
    followerTerms: number[],
  ): { rejections: number; synced: boolean } {
    const leader = newRaft(1, { log: entries(1, ...leaderTerms), term: 7, voters: [1, 2, 3] });
    const follower = newRaft(2, { log: entries(1, ...followerTerms), term: 7, voters: [1, 2, 3] });
    leader.hup('election');
    readMessages(leader);
    leader.step(msg({ type: MessageType.voteResponse, from: 3, to: 1, term: 8 }));
    let rejections = 0;
    for (let round = 0; round < 100; round++) {
      const toFollower = readMessages(leader).filter((m) => m.to === 2);
      if (toFollower.length === 0) {
        break;
      }
      toFollower.forEach((m) => follower.step(m));
      const answers = readMessages(follower);
      rejections += answers.filter((m) => m.reject).length;
      answers.forEach((m) => leader.step(m));
    }
    const synced =
      follower.log.lastIndex() === leader.log.lastIndex() &&
      follower.log.lastTerm() === leader.log.lastTerm();
    return { rejections, synced };
  }

  it('Raft backtracks over a whole term per rejection', () => {
    // Reference: Raft §5.3 (end) — "the follower can include the term of the conflicting
    // entry and the first index it stores for that term ... one AppendEntries RPC will be
    // required for each term with conflicting entries, rather than one RPC per entry".
    const cases: [number[], number[], number][] = [
      // leader terms, follower terms, most rejections allowed
      [[1, 1, 1, 4, 4, 4, 5, 5, 6, 6, 6], [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], 1],
      [[1, 1, 1, 4, 4, 4, 5, 5, 6, 6, 6], [1, 1, 1, 4], 1],
      [[1, 1, 1, 4, 4, 4, 5, 5, 6, 6, 6], [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6, 7, 7], 2],
      [[1, 1, 1, 4, 4, 4, 5, 5, 6, 6, 6], [1, 1, 1, 4, 4, 4, 4], 1],
      [[1, 2, 3, 4, 5, 6, 7], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 2],
    ];
    for (const [leaderTerms, followerTerms, rejectionsMax] of cases) {
      const { rejections, synced } = rejectionsToSync(leaderTerms, followerTerms);
      expect(synced, JSON.stringify(followerTerms)).toBe(true);
      expect(rejections, JSON.stringify(followerTerms)).toBeLessThanOrEqual(rejectionsMax);
    }
  });

  it('Raft ignores a stale rejection that arrives after the follower was matched', () => {
    // Reference: Raft §5.3 — a reordered or duplicated rejection must not rewind progress.
    const r = replicatingLeader();
    proposeBytes(r, 3, 1);
    const [sent] = appendsTo(readMessages(r), 2);
    if (sent !== undefined) {
      r.step(ack(sent));
    }
    readMessages(r);
    const progress = r.progress.get(asNodeId(2));
    const before = [progress?.match, progress?.next, progress?.state];
    r.step(
      msg({
        type: MessageType.appendResponse,
        from: 2,
        to: 1,
        term: 1,
        index: asIndex(1),
        reject: true,
        rejectHint: asIndex(0),
      }),
    );
    expect([progress?.match, progress?.next, progress?.state]).toEqual(before);
    expect(appendsTo(readMessages(r), 2)).toHaveLength(0);
  });
});

describe('uncommitted log limit', () => {
  it('Raft.propose drops a proposal over uncommittedSizeBytesMax with COFFER_RAFT_PROPOSAL_DROPPED', () => {
    // etcd MaxUncommittedEntriesSize: a leader cut off from its followers stops growing its
    // log without bound.
    const r = replicatingLeader({ uncommittedSizeBytesMax: 10 });
    expect(r.propose([new Uint8Array(6)])).toEqual({ ok: true });
    const refused = r.propose([new Uint8Array(6)]);
    expect(refused).toMatchObject({ ok: false, code: RaftErrorCode.proposalDropped });
    expect(r.propose([new Uint8Array(4)])).toEqual({ ok: true });
    expect(r.log.lastIndex()).toBe(3);
  });

  it('Raft.propose accepts one oversized proposal when nothing is uncommitted', () => {
    // As etcd: a single large entry must not be refused forever.
    const r = replicatingLeader({ uncommittedSizeBytesMax: 10 });
    expect(r.propose([new Uint8Array(50)])).toEqual({ ok: true });
    expect(r.propose([new Uint8Array(1)])).toMatchObject({
      ok: false,
      code: RaftErrorCode.proposalDropped,
    });
  });

  it('Raft.propose always accepts empty entries', () => {
    const r = replicatingLeader({ uncommittedSizeBytesMax: 10 });
    expect(r.propose([new Uint8Array(10)])).toEqual({ ok: true });
    expect(r.propose([new Uint8Array(0)])).toEqual({ ok: true });
  });

  it('RawNode.advance frees the uncommitted budget once entries are committed and applied', () => {
    const cluster = new InMemoryCluster({
      voters: [1, 2, 3],
      node: { uncommittedSizeBytesMax: 10 },
    });
    cluster.elect(1);
    const leader = cluster.node(1).raw;
    cluster.isolate(1);
    expect(leader.propose([new Uint8Array(6)]).ok).toBe(true);
    cluster.stabilize();
    expect(leader.propose([new Uint8Array(6)])).toMatchObject({
      ok: false,
      code: RaftErrorCode.proposalDropped,
    });
    cluster.heal();
    cluster.tickAll();
    cluster.stabilize();
    expect(leader.status().applied).toBe(leader.status().lastIndex);
    expect(leader.propose([new Uint8Array(6)])).toEqual({ ok: true });
  });
});
