/**
 * Majority arithmetic over a set of voters: the commit index a quorum has reached and the
 * result of an election.
 */
import { asIndex, type LogIndex, type NodeId } from './types.ts';

/** The result of counting votes. */
export const VoteResult = {
  pending: 'pending',
  won: 'won',
  lost: 'lost',
} as const;
/** Union of {@link VoteResult} values. */
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

/** The number of voters that makes a majority. */
export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest index that a majority of voters has matched (Raft §5.3). With no voters this is
 * +Infinity as a LogIndex, so that a joint use takes the other side; callers avoid that case.
 */
export function committedIndex(
  voters: readonly NodeId[],
  matchOf: (id: NodeId) => LogIndex,
): LogIndex {
  if (voters.length === 0) {
    return asIndex(Number.MAX_SAFE_INTEGER);
  }
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[quorumSize(voters.length) - 1] ?? asIndex(0);
}

/** Counts granted and rejected votes among the voters. */
export function voteResult(
  voters: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) {
      granted++;
    } else if (vote === false) {
      rejected++;
    }
  }
  const quorum = quorumSize(voters.length);
  if (granted >= quorum) {
    return VoteResult.won;
  }
  if (voters.length - rejected < quorum) {
    return VoteResult.lost;
  }
  return VoteResult.pending;
}
