// Goal: the majority arithmetic that elections and commitment rest on (Raft §5.2, §5.3).
// Method: exhaustive enumeration of small clusters (1 to 5 voters) against a brute-force
// oracle written independently of quorum.ts: every assignment of match indexes in [0, 3] and
// every assignment of votes in {granted, rejected, missing}.
import { describe, expect, it } from 'vitest';
import { committedIndex, quorumSize, voteResult, VoteResult } from './quorum.ts';
import { asIndex, asNodeId, type LogIndex, type NodeId } from './types.ts';

function ids(count: number): NodeId[] {
  return Array.from({ length: count }, (_, i) => asNodeId(i + 1));
}

/** Every tuple of `length` values drawn from `values`. */
function tuples<T>(values: readonly T[], length: number): T[][] {
  let out: T[][] = [[]];
  for (let i = 0; i < length; i++) {
    out = out.flatMap((prefix) => values.map((v) => [...prefix, v]));
  }
  return out;
}

/** The largest index that strictly more than half of the voters have reached. */
function committedOracle(matches: readonly number[]): number {
  let best = 0;
  for (let candidate = 0; candidate <= 3; candidate++) {
    const reached = matches.filter((m) => m >= candidate).length;
    if (reached * 2 > matches.length) {
      best = candidate;
    }
  }
  return best;
}

describe('quorumSize', () => {
  it('quorumSize is a strict majority for cluster sizes 1 to 9', () => {
    // Reference: Raft §5.2 — a candidate wins with votes from a majority of the full cluster.
    const expected = [1, 2, 2, 3, 3, 4, 4, 5, 5];
    expect(expected.map((_, i) => quorumSize(i + 1))).toEqual(expected);
  });

  it('quorumSize makes any two quorums intersect for cluster sizes 1 to 9', () => {
    // Reference: Raft §5.4 — safety rests on every two majorities sharing a voter.
    for (let n = 1; n <= 9; n++) {
      expect(2 * quorumSize(n)).toBeGreaterThan(n);
      expect(quorumSize(n)).toBeLessThanOrEqual(n);
    }
  });
});

describe('committedIndex', () => {
  it('committedIndex matches the majority oracle for every assignment of 1 to 5 voters', () => {
    // Reference: Raft §5.3 — an entry is committed once stored on a majority of servers.
    let cases = 0;
    for (let n = 1; n <= 5; n++) {
      const voters = ids(n);
      for (const matches of tuples([0, 1, 2, 3], n)) {
        const got = committedIndex(voters, (id) => asIndex(matches[id - 1] ?? -1));
        expect(got, `matches ${JSON.stringify(matches)}`).toBe(committedOracle(matches));
        cases++;
      }
    }
    expect(cases).toBe(4 + 16 + 64 + 256 + 1024);
  });

  it('committedIndex ignores nodes that are not voters', () => {
    const voters = ids(3);
    const matches = new Map<number, number>([
      [1, 5],
      [2, 1],
      [3, 1],
      [4, 9],
      [5, 9],
    ]);
    expect(committedIndex(voters, (id) => asIndex(matches.get(id) ?? 0))).toBe(1);
  });

  it('committedIndex does not depend on the order of the voter list', () => {
    const matches = [7, 3, 5, 1, 9];
    const matchOf = (id: NodeId): LogIndex => asIndex(matches[id - 1] ?? 0);
    const forward = committedIndex(ids(5), matchOf);
    const backward = committedIndex([...ids(5)].reverse(), matchOf);
    expect(forward).toBe(5);
    expect(backward).toBe(forward);
  });

  it('committedIndex of an empty voter set is the largest index so a joint half defers', () => {
    expect(committedIndex([], () => asIndex(0))).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('voteResult', () => {
  type Vote = 'granted' | 'rejected' | 'missing';

  function oracle(votes: readonly Vote[]): VoteResult {
    const q = Math.floor(votes.length / 2) + 1;
    const granted = votes.filter((v) => v === 'granted').length;
    const missing = votes.filter((v) => v === 'missing').length;
    if (granted >= q) {
      return VoteResult.won;
    }
    return granted + missing >= q ? VoteResult.pending : VoteResult.lost;
  }

  it('voteResult matches the oracle for every vote assignment of 1 to 5 voters', () => {
    // Reference: Raft §5.2 — won with a majority, lost once a majority is out of reach.
    let cases = 0;
    for (let n = 1; n <= 5; n++) {
      const voters = ids(n);
      for (const assignment of tuples<Vote>(['granted', 'rejected', 'missing'], n)) {
        const votes = new Map<NodeId, boolean>();
        assignment.forEach((v, i) => {
          if (v !== 'missing') {
            votes.set(asNodeId(i + 1), v === 'granted');
          }
        });
        expect(voteResult(voters, votes), JSON.stringify(assignment)).toBe(oracle(assignment));
        cases++;
      }
    }
    expect(cases).toBe(3 + 9 + 27 + 81 + 243);
  });

  it('voteResult ignores votes from nodes that are not voters', () => {
    // A learner's or a removed node's vote must never tip an election.
    const votes = new Map<NodeId, boolean>([
      [asNodeId(1), true],
      [asNodeId(4), true],
      [asNodeId(5), true],
    ]);
    expect(voteResult(ids(3), votes)).toBe(VoteResult.pending);
  });

  it('voteResult wins at once for a single voter that votes for itself', () => {
    const votes = new Map<NodeId, boolean>([[asNodeId(1), true]]);
    expect(voteResult(ids(1), votes)).toBe(VoteResult.won);
  });
});
