// Goal: the rules of the Raft paper, one test per rule, as etcd-io/raft raft_paper_test.go
// does: Figure 2 and §5.1–§5.4 (terms, elections, log replication, commitment, the election
// restriction) plus persistence of the vote before it is announced (thesis §3.8).
// Method: each test has three parts. Init builds a Raft (or RawNode) directly on a MemoryStorage
// preloaded with a log and a hard state. Test feeds hand-built messages through step() and
// ticks. Check reads the outgoing messages (after flush(), since the leader batches) and the
// node's state. Cluster scenarios (Figure 7, Figure 8) use a tiny message pump or
// InMemoryCluster with filters.
import { describe, expect, it } from 'vitest';
import { InMemoryCluster, persistUnstable } from '../testing.ts';
import { SeededRandom } from '../testing/seeded_random.ts';
import { makeConfig, type RaftConfigInput } from './config.ts';
import { MemoryStorage } from './memory_storage.ts';
import { Raft } from './raft.ts';
import { RawNode } from './raw_node.ts';
import {
  asIndex,
  asNodeId,
  asTerm,
  EntryType,
  makeMessage,
  MessageType,
  Role,
  type Entry,
  type Message,
} from './types.ts';

// ── Helpers ──────────────────────────────────────────────────────────────────────────────

interface RaftSetup {
  voters?: number[];
  entries?: Entry[];
  term?: number;
  vote?: number;
  commit?: number;
  config?: Partial<RaftConfigInput>;
}

function entry(index: number, term: number, data = ''): Entry {
  return {
    index: asIndex(index),
    term: asTerm(term),
    type: EntryType.normal,
    data: new TextEncoder().encode(data),
  };
}

/** Entries first, first+1, ... with the given terms. */
function entries(first: number, ...terms: number[]): Entry[] {
  return terms.map((term, i) => entry(first + i, term));
}

function newStorage(setup: RaftSetup): MemoryStorage {
  const storage = new MemoryStorage({
    voters: (setup.voters ?? [1, 2, 3]).map(asNodeId),
    learners: [],
  });
  storage.append(setup.entries ?? []);
  storage.setHardState({
    term: asTerm(setup.term ?? 0),
    vote: asNodeId(setup.vote ?? 0),
    commit: asIndex(setup.commit ?? 0),
  });
  return storage;
}

function configFor(id: number, storage: MemoryStorage, setup: RaftSetup): RaftConfigInput {
  return {
    id: asNodeId(id),
    storage,
    randomInt: () => 0,
    electionTimeoutTicks: 10,
    heartbeatIntervalTicks: 1,
    preVote: false,
    ...setup.config,
  };
}

/** A Raft on a storage preloaded as described; PreVote is off unless the setup turns it on. */
function newRaft(id: number, setup: RaftSetup = {}): Raft {
  const storage = newStorage(setup);
  return new Raft(makeConfig(configFor(id, storage, setup)));
}

function becomeLeader(r: Raft): void {
  r.becomeCandidate();
  r.becomeLeader();
}

/** The messages the node would send now (a leader's batched appends included), once persisted. */
function readMessages(r: Raft): Message[] {
  persistUnstable(r);
  r.flush();
  const out = r.messages;
  r.messages = [];
  return [...out].sort((a, b) => a.to - b.to || a.type.localeCompare(b.type));
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

/** The follower's acceptance of an append, as etcd's acceptAndReply. */
function acceptAndReply(m: Message): Message {
  expect(m.type).toBe(MessageType.append);
  return msg({
    type: MessageType.appendResponse,
    from: m.to,
    to: m.from,
    term: m.term,
    index: asIndex(m.index + m.entries.length),
  });
}

/** Makes r leader of its term + 1 and commits its no-op with acks from every follower. */
function leaderWithCommittedNoop(r: Raft): void {
  becomeLeader(r);
  for (const m of readMessages(r)) {
    r.step(acceptAndReply(m));
  }
  readMessages(r);
}

function termsOf(r: Raft): number[] {
  const out: number[] = [];
  for (let i = r.log.firstIndex(); i <= r.log.lastIndex(); i++) {
    out.push(r.log.term(asIndex(i)) ?? -1);
  }
  return out;
}

function propose(r: Raft, data: string): void {
  expect(r.propose([new TextEncoder().encode(data)])).toEqual({ ok: true });
}

/** Delivers messages among rafts until none is left; drop() filters messages. */
function pump(rafts: ReadonlyMap<number, Raft>, drop: (m: Message) => boolean = () => false): void {
  for (let round = 0; round < 1000; round++) {
    const batch = [...rafts.values()].flatMap(readMessages);
    if (batch.length === 0) {
      return;
    }
    for (const m of batch) {
      if (!drop(m)) {
        rafts.get(m.to)?.step(m);
      }
    }
  }
  throw new Error('message pump did not settle');
}

// ── §5.1 Terms ───────────────────────────────────────────────────────────────────────────

describe('Raft §5.1 terms', () => {
  for (const role of [Role.follower, Role.candidate, Role.leader] as const) {
    it(`Raft.step moves a ${role} to a higher term from a message and makes it a follower`, () => {
      // Reference: Raft §5.1 — a server whose term is out of date takes the larger term; a
      // candidate or leader that does so reverts to follower.
      const r = newRaft(1, { config: { checkQuorum: false } });
      if (role === Role.follower) {
        r.becomeFollower(asTerm(1), asNodeId(2));
      } else if (role === Role.candidate) {
        r.becomeCandidate();
      } else {
        becomeLeader(r);
      }
      r.step(msg({ type: MessageType.append, from: 2, to: 1, term: 2 }));
      expect(r.term).toBe(2);
      expect(r.role).toBe(Role.follower);
      expect(r.leader).toBe(2);
    });
  }

  it('Raft.step ignores a message from an older term', () => {
    // Reference: Raft §5.1 — a request with a stale term is rejected. Without CheckQuorum and
    // PreVote nothing is answered (etcd); the state is untouched either way.
    const r = newRaft(1, { term: 2, entries: entries(1, 1), config: { checkQuorum: false } });
    r.step(
      msg({
        type: MessageType.append,
        from: 2,
        to: 1,
        term: 1,
        index: asIndex(1),
        logTerm: asTerm(1),
        entries: entries(2, 1),
        commit: asIndex(2),
      }),
    );
    expect(r.term).toBe(2);
    expect(r.log.lastIndex()).toBe(1);
    expect(r.log.committed).toBe(0);
    expect(r.leader).toBe(0);
    expect(readMessages(r)).toEqual([]);
  });

  it('Raft.step answers a stale append with its higher term when CheckQuorum is on', () => {
    // Reference: Raft §5.1 — the stale leader learns the newer term from the reply and steps
    // down (etcd raft.Step, for CheckQuorum and PreVote).
    const r = newRaft(1, { term: 2, config: { checkQuorum: true } });
    r.step(msg({ type: MessageType.append, from: 2, to: 1, term: 1 }));
    expect(readMessages(r)).toEqual([
      msg({ type: MessageType.appendResponse, from: 1, to: 2, term: 2 }),
    ]);
    expect(r.term).toBe(2);
  });

  it('Raft.step makes a leader step down on a higher-term append response', () => {
    // Reference: Raft §5.1 — "if a candidate or leader discovers that its term is out of date,
    // it immediately reverts to follower state".
    const r = newRaft(1);
    becomeLeader(r);
    r.step(msg({ type: MessageType.appendResponse, from: 2, to: 1, term: 5, reject: true }));
    expect(r.role).toBe(Role.follower);
    expect(r.term).toBe(5);
    expect(r.leader).toBe(0);
  });
});

// ── §5.2 Leader election ─────────────────────────────────────────────────────────────────

describe('Raft §5.2 leader election', () => {
  it('Raft starts as a follower', () => {
    // Reference: Raft §5.2 — "when servers start up, they begin as followers".
    const r = newRaft(1);
    expect(r.role).toBe(Role.follower);
    expect(r.term).toBe(0);
  });

  it('Raft.tick makes a leader send heartbeats with no entries to every follower', () => {
    // Reference: Raft §5.2 — leaders send periodic heartbeats (AppendEntries without entries).
    const r = newRaft(1);
    becomeLeader(r);
    readMessages(r);
    r.tick();
    const messages = readMessages(r);
    expect(messages.map((m) => [m.type, m.to, m.term, m.entries.length, m.commit])).toEqual([
      [MessageType.heartbeat, 2, 1, 0, 0],
      [MessageType.heartbeat, 3, 1, 0, 0],
    ]);
  });

  for (const role of [Role.follower, Role.candidate] as const) {
    it(`Raft.tick makes a ${role} start an election after the election timeout`, () => {
      // Reference: Raft §5.2 — with no communication over an election timeout, a follower
      // increments its term, becomes candidate, votes for itself and asks every other server;
      // a candidate that neither wins nor loses starts a new election the same way.
      const r = newRaft(1);
      if (role === Role.follower) {
        r.becomeFollower(asTerm(1), asNodeId(2));
      } else {
        r.becomeCandidate();
      }
      for (let i = 0; i < 10; i++) {
        r.tick();
      }
      expect(r.term).toBe(2);
      expect(r.role).toBe(Role.candidate);
      expect(r.vote).toBe(1);
      expect(r.votes.get(asNodeId(1))).toBe(true);
      expect(readMessages(r)).toEqual([
        msg({ type: MessageType.vote, from: 1, to: 2, term: 2 }),
        msg({ type: MessageType.vote, from: 1, to: 3, term: 2 }),
      ]);
    });
  }

  it('Raft.step decides an election in one round of vote responses', () => {
    // Reference: Raft §5.2 — a candidate wins with a majority, returns to follower when a
    // majority refuses, and otherwise stays candidate.
    const cases: [number, Record<number, boolean>, Role][] = [
      [1, {}, Role.leader],
      [3, { 2: true, 3: true }, Role.leader],
      [3, { 2: true }, Role.leader],
      [5, { 2: true, 3: true, 4: true, 5: true }, Role.leader],
      [5, { 2: true, 3: true, 4: true }, Role.leader],
      [5, { 2: true, 3: true }, Role.leader],
      [3, { 2: false, 3: false }, Role.follower],
      [5, { 2: false, 3: false, 4: false, 5: false }, Role.follower],
      [5, { 2: true, 3: false, 4: false, 5: false }, Role.follower],
      [3, {}, Role.candidate],
      [5, { 2: true }, Role.candidate],
      [5, { 2: false, 3: false }, Role.candidate],
      [5, {}, Role.candidate],
    ];
    for (const [size, votes, want] of cases) {
      const r = newRaft(1, { voters: Array.from({ length: size }, (_, i) => i + 1) });
      r.hup('election');
      for (const [id, granted] of Object.entries(votes)) {
        r.step(
          msg({
            type: MessageType.voteResponse,
            from: Number(id),
            to: 1,
            term: r.term,
            reject: !granted,
          }),
        );
      }
      expect(r.role, `${size} voters, votes ${JSON.stringify(votes)}`).toBe(want);
      expect(r.term).toBe(1);
    }
  });

  it('Raft.step grants at most one vote per term, first come first served', () => {
    // Reference: Raft §5.2 — "each server will vote for at most one candidate in a given term,
    // on a first-come-first-served basis".
    const cases: [number, number, boolean][] = [
      [0, 2, false],
      [0, 3, false],
      [2, 2, false],
      [3, 3, false],
      [2, 3, true],
      [3, 2, true],
    ];
    for (const [vote, candidate, wantReject] of cases) {
      const r = newRaft(1, { term: 1, vote });
      r.step(msg({ type: MessageType.vote, from: candidate, to: 1, term: 1 }));
      expect(readMessages(r), `voted ${vote}, asked by ${candidate}`).toEqual([
        msg({
          type: MessageType.voteResponse,
          from: 1,
          to: candidate,
          term: 1,
          reject: wantReject,
        }),
      ]);
      expect(r.vote).toBe(vote === 0 ? candidate : vote);
    }
  });

  it('Raft.step makes a candidate fall back to follower on an append of its term or later', () => {
    // Reference: Raft §5.2 — a candidate that hears AppendEntries from a leader whose term is
    // at least its own recognizes the leader and returns to follower.
    for (const term of [1, 2]) {
      const r = newRaft(1);
      r.hup('election');
      expect(r.role).toBe(Role.candidate);
      r.step(msg({ type: MessageType.append, from: 2, to: 1, term }));
      expect(r.role).toBe(Role.follower);
      expect(r.term).toBe(term);
      expect(r.leader).toBe(2);
    }
  });

  for (const role of [Role.follower, Role.candidate] as const) {
    it(`Raft election timeout of a ${role} is randomized over [timeout, 2 * timeout)`, () => {
      // Reference: Raft §5.2 — randomized election timeouts make split votes rare.
      const random = new SeededRandom(7);
      const r = newRaft(1, { config: { randomInt: (n) => random.int(n) } });
      const seen = new Set<number>();
      for (let round = 0; round < 500; round++) {
        if (role === Role.follower) {
          r.becomeFollower(asTerm(r.term + 1), asNodeId(2));
        } else {
          r.becomeCandidate();
        }
        let ticks = 0;
        while (readMessages(r).length === 0) {
          r.tick();
          ticks++;
        }
        seen.add(ticks);
      }
      expect([...seen].sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    });
  }

  it('Raft election timeouts of five followers seldom fire on the same tick', () => {
    // Reference: Raft §5.2 — "in most cases only a single server will time out".
    const random = new SeededRandom(11);
    const ids = [1, 2, 3, 4, 5];
    const rafts = ids.map((id) =>
      newRaft(id, { voters: ids, config: { randomInt: (n) => random.int(n) } }),
    );
    let conflicts = 0;
    for (let round = 0; round < 1000; round++) {
      for (const r of rafts) {
        r.becomeFollower(asTerm(r.term + 1), asNodeId(0));
      }
      let timedOut = 0;
      while (timedOut === 0) {
        for (const r of rafts) {
          r.tick();
          if (readMessages(r).length > 0) {
            timedOut++;
          }
        }
      }
      if (timedOut > 1) {
        conflicts++;
      }
    }
    expect(conflicts / 1000).toBeLessThanOrEqual(0.3);
  });
});

// ── §5.3 Log replication ─────────────────────────────────────────────────────────────────

describe('Raft §5.3 log replication', () => {
  it('Raft.becomeLeader appends a no-op of its term and sends it to every follower', () => {
    // Reference: Raft §5.4.2 and §8 — a new leader commits an entry of its own term, which
    // commits everything before it.
    const r = newRaft(1, { entries: entries(1, 1, 1), term: 1 });
    becomeLeader(r);
    expect(r.log.lastIndex()).toBe(3);
    const noop = r.log.entriesFrom(asIndex(3), 1000)?.[0];
    expect(noop).toMatchObject({ index: 3, term: 2, type: EntryType.normal });
    expect(noop?.data.byteLength).toBe(0);
    const appends = readMessages(r);
    expect(appends.map((m) => [m.type, m.to, m.entries.map((e) => e.index)])).toEqual([
      [MessageType.append, 2, [3]],
      [MessageType.append, 3, [3]],
    ]);
    expect(r.log.committed).toBe(0);
  });

  it('Raft.propose appends to the leader log and replicates with the preceding index and term', () => {
    // Reference: Raft §5.3 — the leader appends the command to its log, then issues
    // AppendEntries in parallel, including the index and term of the preceding entry.
    const r = newRaft(1);
    leaderWithCommittedNoop(r);
    const last = r.log.lastIndex();
    propose(r, 'some data');
    expect(r.log.lastIndex()).toBe(last + 1);
    expect(r.log.committed).toBe(last);
    const want = [entry(last + 1, 1, 'some data')];
    expect(readMessages(r)).toEqual([
      msg({
        type: MessageType.append,
        from: 1,
        to: 2,
        term: 1,
        index: asIndex(last),
        logTerm: asTerm(1),
        entries: want,
        commit: asIndex(last),
      }),
      msg({
        type: MessageType.append,
        from: 1,
        to: 3,
        term: 1,
        index: asIndex(last),
        logTerm: asTerm(1),
        entries: want,
        commit: asIndex(last),
      }),
    ]);
    expect(r.log.storage.entries(asIndex(last + 1), asIndex(last + 2), Infinity)).toEqual(want);
  });

  it('Raft.step commits an entry a majority stored and tells the followers the new commit', () => {
    // Reference: Raft §5.3 — once replicated on a majority the entry is committed; the leader
    // includes its commit index in later AppendEntries so followers learn it.
    const r = newRaft(1);
    leaderWithCommittedNoop(r);
    const last = r.log.lastIndex();
    propose(r, 'some data');
    for (const m of readMessages(r)) {
      r.step(acceptAndReply(m));
    }
    expect(r.log.committed).toBe(last + 1);
    expect(r.log.nextCommittedEntries(1 << 20).map((e) => e.index)).toEqual([1, 2]);
    const updates = readMessages(r);
    expect(updates.map((m) => [m.type, m.to, m.commit])).toEqual([
      [MessageType.append, 2, last + 1],
      [MessageType.append, 3, last + 1],
    ]);
  });

  it('Raft.step commits once a majority, counting the leader, acknowledged', () => {
    // Reference: Raft §5.3 — committed once the leader that created it replicated it on a
    // majority of the servers.
    const cases: [number, number[], boolean][] = [
      [1, [], true],
      [3, [], false],
      [3, [2], true],
      [3, [2, 3], true],
      [5, [], false],
      [5, [2], false],
      [5, [2, 3], true],
      [5, [2, 3, 4], true],
      [5, [2, 3, 4, 5], true],
    ];
    for (const [size, acceptors, wantCommit] of cases) {
      const r = newRaft(1, { voters: Array.from({ length: size }, (_, i) => i + 1) });
      leaderWithCommittedNoop(r);
      const last = r.log.lastIndex();
      propose(r, 'some data');
      for (const m of readMessages(r)) {
        if (acceptors.includes(m.to)) {
          r.step(acceptAndReply(m));
        }
      }
      expect(r.log.committed > last, `${size} voters, acks from ${JSON.stringify(acceptors)}`).toBe(
        wantCommit,
      );
    }
  });

  it('Raft.step commits the entries of earlier leaders together with one of its own term', () => {
    // Reference: Raft §5.3 — committing an entry also commits all preceding entries,
    // including those created by previous leaders.
    const cases: Entry[][] = [[], entries(1, 2), entries(1, 1, 2), entries(1, 1)];
    for (const prior of cases) {
      const r = newRaft(1, { entries: prior, term: 2 });
      becomeLeader(r);
      propose(r, 'some data');
      for (const m of readMessages(r)) {
        r.step(acceptAndReply(m));
      }
      const n = prior.length;
      const committed = r.log.nextCommittedEntries(1 << 20);
      expect(committed.map((e) => [e.index, e.term])).toEqual([
        ...prior.map((e) => [e.index, e.term]),
        [n + 1, 3],
        [n + 2, 3],
      ]);
      expect(new TextDecoder().decode(committed.at(-1)?.data)).toBe('some data');
    }
  });

  it('Raft.step makes a follower commit and hand out entries in log order', () => {
    // Reference: Raft §5.3 — once a follower learns an entry is committed, it applies it (and
    // everything before it) in log order.
    const cases: [Entry[], number][] = [
      [[entry(1, 1, 'some data')], 1],
      [[entry(1, 1, 'some data'), entry(2, 1, 'some data2')], 2],
      [[entry(1, 1, 'some data2'), entry(2, 1, 'some data')], 2],
      [[entry(1, 1, 'some data'), entry(2, 1, 'some data2')], 1],
    ];
    for (const [ents, commit] of cases) {
      const r = newRaft(1);
      r.becomeFollower(asTerm(1), asNodeId(2));
      r.step(
        msg({
          type: MessageType.append,
          from: 2,
          to: 1,
          term: 1,
          entries: ents,
          commit: asIndex(commit),
        }),
      );
      expect(r.log.committed).toBe(commit);
      expect(r.log.nextCommittedEntries(1 << 20)).toEqual(ents.slice(0, commit));
    }
  });

  it('Raft.step makes a follower refuse an append whose previous entry it does not hold', () => {
    // Reference: Raft §5.3 and Figure 2 step 2 — the consistency check on prevLogIndex and
    // prevLogTerm; a refusal hints where the logs may agree (§5.3 optimization).
    const cases: [number, number, number, boolean, number, number][] = [
      // [prevTerm, prevIndex, want index, want reject, want hint, want hint term]
      [0, 0, 1, false, 0, 0],
      [1, 1, 1, false, 0, 0],
      [2, 2, 2, false, 0, 0],
      [1, 2, 2, true, 1, 1],
      [3, 3, 3, true, 2, 2],
    ];
    for (const [prevTerm, prevIndex, index, reject, hint, hintTerm] of cases) {
      const r = newRaft(1, { entries: entries(1, 1, 2), term: 2, commit: 1 });
      r.becomeFollower(asTerm(2), asNodeId(2));
      r.step(
        msg({
          type: MessageType.append,
          from: 2,
          to: 1,
          term: 2,
          logTerm: asTerm(prevTerm),
          index: asIndex(prevIndex),
        }),
      );
      expect(readMessages(r), `prev ${prevIndex}/${prevTerm}`).toEqual([
        msg({
          type: MessageType.appendResponse,
          from: 1,
          to: 2,
          term: 2,
          index: asIndex(index),
          reject,
          rejectHint: asIndex(hint),
          logTerm: asTerm(hintTerm),
        }),
      ]);
    }
  });

  it('Raft.step makes a follower delete a conflicting suffix and append new entries', () => {
    // Reference: Raft §5.3 and Figure 2 steps 3 and 4 — delete the conflicting entry and all
    // that follow it; append any new entries not already in the log.
    const cases: [number, number, Entry[], number[], number[]][] = [
      // [prevIndex, prevTerm, entries, want terms, want unstable indexes]
      [2, 2, entries(3, 3), [1, 2, 3], [3]],
      [1, 1, entries(2, 3, 4), [1, 3, 4], [2, 3]],
      [0, 0, entries(1, 1), [1, 2], []],
      [0, 0, entries(1, 3), [3], [1]],
    ];
    for (const [prevIndex, prevTerm, ents, wantTerms, wantUnstable] of cases) {
      const r = newRaft(1, { entries: entries(1, 1, 2), term: 2 });
      r.step(
        msg({
          type: MessageType.append,
          from: 2,
          to: 1,
          term: 4,
          logTerm: asTerm(prevTerm),
          index: asIndex(prevIndex),
          entries: ents,
        }),
      );
      expect(termsOf(r), `prev ${prevIndex}/${prevTerm}`).toEqual(wantTerms);
      expect(r.log.unstable.entries.map((e) => e.index)).toEqual(wantUnstable);
    }
  });

  it('Raft.step never truncates a follower log on a stale or reordered append', () => {
    // Reference: Raft Figure 2 step 3 — truncation happens only at a real conflict (same
    // index, different term). A delayed append that carries a prefix the follower already
    // holds must not cut off the entries that a later append brought.
    const r = newRaft(1, { term: 1 });
    r.becomeFollower(asTerm(1), asNodeId(2));
    const first = msg({
      type: MessageType.append,
      from: 2,
      to: 1,
      term: 1,
      entries: entries(1, 1),
    });
    const second = msg({
      type: MessageType.append,
      from: 2,
      to: 1,
      term: 1,
      index: asIndex(1),
      logTerm: asTerm(1),
      entries: entries(2, 1, 1),
    });
    r.step(first);
    r.step(second);
    r.step(first); // delivered again, late
    r.step(msg({ type: MessageType.append, from: 2, to: 1, term: 1, entries: entries(1, 1, 1) })); // a shorter prefix, reordered
    expect(termsOf(r)).toEqual([1, 1, 1]);
    const answers = readMessages(r).map((m) => [m.reject, m.index]);
    expect(answers).toEqual([
      [false, 1],
      [false, 3],
      [false, 1],
      [false, 2],
    ]);
  });

  it('Raft.step sets a follower commit to min(leaderCommit, index of last new entry)', () => {
    // Reference: Raft Figure 2 step 5 — entries past the last new one were not checked
    // against the leader's log and may yet be replaced, so they must not be committed.
    const r = newRaft(1, { entries: entries(1, 1, 1, 1), term: 1 });
    r.becomeFollower(asTerm(2), asNodeId(2));
    r.step(
      msg({
        type: MessageType.append,
        from: 2,
        to: 1,
        term: 2,
        index: asIndex(1),
        logTerm: asTerm(1),
        commit: asIndex(3),
      }),
    );
    expect(r.log.committed).toBe(1);
    r.step(
      msg({
        type: MessageType.append,
        from: 2,
        to: 1,
        term: 2,
        index: asIndex(1),
        logTerm: asTerm(1),
        entries: entries(2, 2),
        commit: asIndex(3),
      }),
    );
    expect(r.log.committed).toBe(2);
    expect(termsOf(r)).toEqual([1, 2]);
  });

  it('Raft.step lets a leader bring each Figure 7 follower log into line with its own', () => {
    // Reference: Raft §5.3, Figure 7 — missing entries, extra uncommitted entries, or both;
    // the leader finds the last agreeing entry and overwrites the rest.
    const leaderLog = entries(1, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6);
    const followerLogs = [
      entries(1, 1, 1, 1, 4, 4, 5, 5, 6, 6),
      entries(1, 1, 1, 1, 4),
      entries(1, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6),
      entries(1, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7),
      entries(1, 1, 1, 1, 4, 4, 4, 4),
      entries(1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3),
    ];
    for (const followerLog of followerLogs) {
      const leader = newRaft(1, { entries: leaderLog, term: 8, commit: leaderLog.length });
      const follower = newRaft(2, { entries: followerLog, term: 7 });
      leader.hup('election');
      readMessages(leader);
      // Node 3 grants the vote: the follower may hold a longer log than the leader.
      leader.step(msg({ type: MessageType.voteResponse, from: 3, to: 1, term: 9 }));
      expect(leader.role).toBe(Role.leader);
      propose(leader, '');
      pump(
        new Map([
          [1, leader],
          [2, follower],
        ]),
      );
      expect(termsOf(follower), JSON.stringify(followerLog.map((e) => e.term))).toEqual(
        termsOf(leader),
      );
      expect(follower.log.committed).toBe(leader.log.committed);
    }
  });
});

// ── §5.4 Safety ──────────────────────────────────────────────────────────────────────────

describe('Raft §5.4 safety', () => {
  it('Raft.campaign sends the index and term of the candidate last entry in its vote request', () => {
    // Reference: Raft §5.4.1 — the RequestVote RPC includes information about the
    // candidate's log.
    const cases: [Entry[], number][] = [
      [entries(1, 1), 2],
      [entries(1, 1, 2), 3],
    ];
    for (const [ents, wantTerm] of cases) {
      const r = newRaft(1);
      r.step(msg({ type: MessageType.append, from: 2, to: 1, term: wantTerm - 1, entries: ents }));
      readMessages(r);
      for (let i = 0; i < 10; i++) {
        r.tickElection();
      }
      const last = ents[ents.length - 1];
      expect(readMessages(r).map((m) => [m.type, m.to, m.term, m.index, m.logTerm])).toEqual([
        [MessageType.vote, 2, wantTerm, last?.index, last?.term],
        [MessageType.vote, 3, wantTerm, last?.index, last?.term],
      ]);
    }
  });

  it('Raft.step denies a vote to a candidate whose log is less up to date', () => {
    // Reference: Raft §5.4.1 — the voter denies its vote if its own log is more up to date:
    // later last term, or the same last term and a longer log.
    const cases: [Entry[], number, number, boolean][] = [
      [entries(1, 1), 1, 1, false],
      [entries(1, 1), 1, 2, false],
      [entries(1, 1, 1), 1, 1, true],
      [entries(1, 1), 2, 1, false],
      [entries(1, 1), 2, 2, false],
      [entries(1, 1, 1), 2, 1, false],
      [entries(1, 2), 1, 1, true],
      [entries(1, 2), 1, 2, true],
      [entries(1, 2, 2), 1, 1, true],
      [entries(1, 1, 1), 1, 1, true],
    ];
    for (const [ents, logTerm, index, wantReject] of cases) {
      const r = newRaft(1, { voters: [1, 2], entries: ents });
      r.step(
        msg({
          type: MessageType.vote,
          from: 2,
          to: 1,
          term: 3,
          logTerm: asTerm(logTerm),
          index: asIndex(index),
        }),
      );
      const messages = readMessages(r);
      expect(messages).toHaveLength(1);
      expect(messages[0]?.type).toBe(MessageType.voteResponse);
      expect(
        messages[0]?.reject,
        `log ${JSON.stringify(ents.map((e) => e.term))}, candidate ${index}/${logTerm}`,
      ).toBe(wantReject);
    }
  });

  it('Raft.step commits by counting replicas only an entry of the leader current term', () => {
    // Reference: Raft §5.4.2 — never commit log entries from previous terms by counting
    // replicas; only entries of the current term.
    const cases: [number, number][] = [
      [1, 0],
      [2, 0],
      [3, 3],
    ];
    for (const [acked, wantCommit] of cases) {
      const r = newRaft(1, { voters: [1, 2], entries: entries(1, 1, 2), term: 2 });
      becomeLeader(r);
      readMessages(r);
      r.step(
        msg({
          type: MessageType.appendResponse,
          from: 2,
          to: 1,
          term: r.term,
          index: asIndex(acked),
        }),
      );
      expect(r.log.committed, `ack of ${acked}`).toBe(wantCommit);
    }
  });

  it('Raft.step leaves an old-term entry stored on a majority uncommitted, as Figure 8 (c) to (d) requires', () => {
    // Reference: Raft §5.4.2, Figure 8 (c)–(d) — S1 leads term 4 and copies its term-2 entry
    // at index 2 to a majority, yet must not commit it: S5 (last term 3) can still win and
    // replace it.
    const cluster = figure8Cluster();
    const s1 = cluster.node(1).raw;
    expect(s1.status().softState.role).toBe(Role.leader);
    expect(cluster.node(2).raw.raft.log.term(asIndex(2))).toBe(2);
    expect(cluster.node(3).raw.raft.log.term(asIndex(2))).toBe(2);
    expect(s1.status().hardState.commit).toBe(1);
    // (d) S1 crashes; S5 is elected by S3, S4 and itself and overwrites index 2.
    cluster.crash(1);
    cluster.heal();
    cluster.restart(5);
    for (let i = 0; i < 3 && cluster.node(5).raw.status().softState.role !== Role.leader; i++) {
      cluster.elect(5);
    }
    expect(cluster.node(5).raw.status().softState.role).toBe(Role.leader);
    cluster.propose(5, 'x');
    for (const id of [2, 3, 4, 5]) {
      expect(cluster.node(id).raw.raft.log.term(asIndex(2)), `S${id}`).toBe(3);
    }
  });

  it('Raft.step commits an old-term entry with one of its own term so a stale candidate cannot win, as Figure 8 (e)', () => {
    // Reference: Raft §5.4.2, Figure 8 (e) — after S1 commits an entry of term 4 on a
    // majority, index 2 is committed indirectly and S5 can no longer be elected.
    const cluster = figure8Cluster();
    cluster.heal();
    cluster.tickAll(2);
    cluster.stabilize();
    const s1 = cluster.node(1).raw;
    expect(s1.status().hardState.commit).toBe(3);
    cluster.crash(1);
    cluster.restart(5);
    for (let i = 0; i < 3; i++) {
      cluster.elect(5);
      expect(cluster.node(5).raw.status().softState.role).not.toBe(Role.leader);
    }
    for (const id of [2, 3, 4]) {
      expect(cluster.node(id).raw.raft.log.term(asIndex(2)), `S${id}`).toBe(2);
    }
  });
});

/**
 * Figure 8 state (c): S1 leads term 4 and has copied index 2 (term 2) to S2 and S3 but its
 * own no-op (index 3) only to S2; S4 is cut off; S5 (index 2 of term 3) is down.
 * Paper algorithm only: no PreVote, no CheckQuorum.
 */
function figure8Cluster(): InMemoryCluster {
  const cluster = new InMemoryCluster({
    voters: [1, 2, 3, 4, 5],
    node: { preVote: false, checkQuorum: false, messageSizeBytesMax: 1 },
  });
  const logs: Record<number, [Entry[], number]> = {
    1: [[entry(1, 1, 'a'), entry(2, 2, 'bb')], 3],
    2: [[entry(1, 1, 'a'), entry(2, 2, 'bb')], 2],
    3: [[entry(1, 1, 'a')], 3],
    4: [[entry(1, 1, 'a')], 3],
    5: [[entry(1, 1, 'a'), entry(2, 3, 'c')], 3],
  };
  for (const [id, [log, term]] of Object.entries(logs)) {
    const node = cluster.node(Number(id));
    node.storage.append(log);
    node.storage.setHardState({ term: asTerm(term), vote: asNodeId(0), commit: asIndex(1) });
    cluster.restart(Number(id));
  }
  cluster.crash(5);
  cluster.isolate(4);
  // S3 may receive index 2 but not S1's no-op at index 3 (appends it would reject still pass).
  const s3 = cluster.node(3).raw;
  cluster.filters.push(
    (m) =>
      !(
        m.to === 3 &&
        m.type === MessageType.append &&
        m.entries.some((e) => e.index >= 3) &&
        s3.status().lastIndex >= 2
      ),
  );
  cluster.elect(1);
  return cluster;
}

// ── Persistence (Figure 2 "Persistent state", thesis §3.8) ───────────────────────────────

describe('Raft persistence of term and vote', () => {
  it('RawNode.ready carries the new vote with mustSync in the same batch as the vote response', () => {
    // Reference: Raft Figure 2 ("updated on stable storage before responding to RPCs") and
    // thesis §3.8 — the driver persists hardState (synced) before it sends the messages of
    // the same Ready, so a vote is durable before the candidate can count it.
    const storage = newStorage({});
    const node = new RawNode(configFor(1, storage, {}));
    node.step(msg({ type: MessageType.vote, from: 2, to: 1, term: 1 }));
    const ready = node.ready();
    expect(ready.hardState).toEqual({ term: 1, vote: 2, commit: 0 });
    expect(ready.mustSync).toBe(true);
    expect(ready.messages).toEqual([
      msg({ type: MessageType.voteResponse, from: 1, to: 2, term: 1 }),
    ]);
    node.advance(ready);
  });

  it('RawNode restarted from storage keeps its vote and refuses a second candidate of that term', () => {
    // Reference: Raft §5.2 and Figure 2 — votedFor is persistent, so a crash cannot let a
    // server vote twice in one term.
    const storage = newStorage({});
    const node = new RawNode(configFor(1, storage, {}));
    node.step(msg({ type: MessageType.vote, from: 2, to: 1, term: 1 }));
    const ready = node.ready();
    if (ready.hardState !== undefined) {
      storage.setHardState(ready.hardState);
    }
    const restarted = new RawNode(configFor(1, storage, {}));
    expect(restarted.status().hardState).toEqual({ term: 1, vote: 2, commit: 0 });
    restarted.step(msg({ type: MessageType.vote, from: 3, to: 1, term: 1 }));
    expect(restarted.ready().messages).toEqual([
      msg({ type: MessageType.voteResponse, from: 1, to: 3, term: 1, reject: true }),
    ]);
  });

  it('RawNode.ready carries new entries with mustSync before the append response', () => {
    // Reference: Raft Figure 2 — log entries are persistent state too.
    const storage = newStorage({ term: 1 });
    const node = new RawNode(configFor(1, storage, {}));
    node.step(msg({ type: MessageType.append, from: 2, to: 1, term: 1, entries: entries(1, 1) }));
    const ready = node.ready();
    expect(ready.entries.map((e) => e.index)).toEqual([1]);
    expect(ready.mustSync).toBe(true);
    expect(ready.messages.map((m) => [m.type, m.index])).toEqual([[MessageType.appendResponse, 1]]);
  });
});
