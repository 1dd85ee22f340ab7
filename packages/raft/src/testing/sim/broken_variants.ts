/**
 * Deliberately broken variants that the simulator must catch. They live only here, in test
 * code: five are subclasses of the real Raft that override one public method, and two are
 * switches of the simulated driver and state machine. The production core has none of these
 * bugs and no switch that turns them on.
 *
 * - oldTermVotes: a candidate counts a granted vote that arrives from an older term.
 * - commitPreviousTermByCount: a leader commits an entry of an earlier term by counting
 *   replicas (Raft §5.4.2, Figure 8).
 * - sendBeforeSync: the driver sends a Ready's messages (a granted vote, an append ack) before
 *   the fsync of its hard state and entries.
 * - readIndexWithoutHeartbeat: the leader answers ReadIndex without confirming with a quorum
 *   that it still leads (thesis §6.4 step 3 skipped).
 * - readIndexBeforeTermCommit: a new leader answers ReadIndex before an entry of its term is
 *   committed, so its commit index may lag (thesis §6.4 step 1 skipped).
 * - noDedup: the state machine applies a write again when a retried proposal commits twice.
 * - leaderCountsUnpersisted: a leader counts its own copy of an entry toward a quorum as soon
 *   as it appends it in memory, while the driver sends appends before the leader's fsync
 *   (thesis §10.2.1 done wrong: a crash of the leader can take back a committed entry).
 */
import {
  MessageType,
  Raft,
  type Entry,
  type Message,
  type NodeId,
  type RaftConfig,
} from '../../index.ts';
import { committedIndex, VoteResult } from '../../core/quorum.ts';
import { asIndex } from '../../core/types.ts';

/** The broken variants the simulator is proven to catch. */
export const BrokenVariant = {
  oldTermVotes: 'oldTermVotes',
  commitPreviousTermByCount: 'commitPreviousTermByCount',
  sendBeforeSync: 'sendBeforeSync',
  readIndexWithoutHeartbeat: 'readIndexWithoutHeartbeat',
  readIndexBeforeTermCommit: 'readIndexBeforeTermCommit',
  noDedup: 'noDedup',
  leaderCountsUnpersisted: 'leaderCountsUnpersisted',
} as const;
/** Union of {@link BrokenVariant} values. */
export type BrokenVariant = (typeof BrokenVariant)[keyof typeof BrokenVariant];

/** Counts a vote granted in an older term as if it were for the current campaign. */
class OldTermVotesRaft extends Raft {
  override handleLowerTermMessage(m: Message): void {
    if (m.type === MessageType.voteResponse && !m.reject && this.role === 'candidate') {
      if (this.poll(m.from, true) === VoteResult.won) {
        this.becomeLeader();
      }
      return;
    }
    super.handleLowerTermMessage(m);
  }
}

/** Commits whatever a quorum has replicated, whatever its term. */
class CommitPreviousTermByCountRaft extends Raft {
  override maybeCommit(): boolean {
    const index = committedIndex(
      this.voters,
      (id: NodeId) => this.progress.get(id)?.match ?? asIndex(0),
    );
    if (index <= this.log.committed || index > this.log.lastIndex()) {
      return false;
    }
    this.log.commitTo(index);
    this.releasePendingReadIndexRequests();
    return true;
  }
}

/** Answers ReadIndex at once, without a heartbeat round. */
class ReadIndexWithoutHeartbeatRaft extends Raft {
  override startReadIndex(from: NodeId, context: Uint8Array): void {
    this.answerReadIndex({ index: this.log.committed, from, context, acks: new Set() });
  }
}

/** Starts ReadIndex before the leader has committed an entry of its own term. */
class ReadIndexBeforeTermCommitRaft extends Raft {
  override handleReadIndex(from: NodeId, context: Uint8Array): void {
    this.startReadIndex(from, context);
  }
}

/** Counts its own appended entries toward a quorum before they are persisted. */
class LeaderCountsUnpersistedRaft extends Raft {
  override appendEntries(items: readonly { type: Entry['type']; data: Uint8Array }[]): boolean {
    if (!super.appendEntries(items)) {
      return false;
    }
    this.progress.get(this.id)?.maybeUpdate(this.log.lastIndex());
    this.maybeCommit();
    return true;
  }
}

/** How a run is broken: a Raft subclass, a driver switch, or a state-machine switch. */
export interface VariantSettings {
  readonly raftFactory: ((config: RaftConfig) => Raft) | undefined;
  readonly sendBeforeSync: boolean;
  readonly dedup: boolean;
}

/** The settings of a run with the given variant, or of a correct run when undefined. */
export function variantSettings(variant: BrokenVariant | undefined): VariantSettings {
  const correct: VariantSettings = { raftFactory: undefined, sendBeforeSync: false, dedup: true };
  switch (variant) {
    case undefined:
      return correct;
    case BrokenVariant.oldTermVotes:
      return { ...correct, raftFactory: (config) => new OldTermVotesRaft(config) };
    case BrokenVariant.commitPreviousTermByCount:
      return { ...correct, raftFactory: (config) => new CommitPreviousTermByCountRaft(config) };
    case BrokenVariant.readIndexWithoutHeartbeat:
      return { ...correct, raftFactory: (config) => new ReadIndexWithoutHeartbeatRaft(config) };
    case BrokenVariant.readIndexBeforeTermCommit:
      return { ...correct, raftFactory: (config) => new ReadIndexBeforeTermCommitRaft(config) };
    case BrokenVariant.sendBeforeSync:
      return { ...correct, sendBeforeSync: true };
    case BrokenVariant.noDedup:
      return { ...correct, dedup: false };
    case BrokenVariant.leaderCountsUnpersisted:
      return { ...correct, raftFactory: (config) => new LeaderCountsUnpersistedRaft(config) };
  }
}
