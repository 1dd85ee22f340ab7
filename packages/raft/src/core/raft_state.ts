/**
 * The state every part of a Raft node shares: term, vote, role, membership, progress of the
 * peers, the log, and the outbox. raft_replication.ts adds the replication protocol on top and
 * raft.ts the roles, elections, reads and transfer; they are one class split by concern
 * (STYLE.md §1.4), in one dependency direction: raft.ts → raft_replication.ts → raft_state.ts.
 *
 * Invariant: all fields live here and are initialized before any subclass code runs.
 */
import type { RaftConfig } from './config.ts';
import { decodeConfChange } from './conf_change.ts';
import { RaftError, RaftErrorCode, refuse, type RaftResult } from './errors.ts';
import { Inflights } from './inflights.ts';
import { Progress } from './progress.ts';
import { RaftLog } from './raft_log.ts';
import { ReadOnlyQueue } from './read_only.ts';
import {
  asIndex,
  asTerm,
  noNode,
  Role,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type ReadState,
  type SnapshotChunk,
  type SnapshotMetadata,
  type Term,
} from './types.ts';

/** A snapshot being received in chunks from the leader. */
export interface IncomingSnapshot {
  readonly metadata: SnapshotMetadata;
  nextOffsetBytes: number;
}

/** The fields and membership bookkeeping of a Raft node. */
export abstract class RaftState {
  readonly id: NodeId;
  readonly config: RaftConfig;
  readonly log: RaftLog;
  term: Term = asTerm(0);
  vote: NodeId = noNode;
  leader: NodeId = noNode;
  role: Role = Role.follower;
  voters: NodeId[] = [];
  learners: NodeId[] = [];
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();
  /** Messages to send once the current Ready is persisted. */
  messages: Message[] = [];
  readStates: ReadState[] = [];
  /** Snapshot chunks received from the leader, for the driver to stage before it acks them. */
  snapshotChunks: SnapshotChunk[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  /** Ticks since this node started; never reset. The clock of the leader's read lease. */
  ticks = 0;
  /**
   * Ticks left during which a restarted node refuses votes, as if it still heard from a
   * leader: it may have promised one a lease before it crashed (leaseBased reads only).
   */
  restartQuietTicks = 0;
  /** This leader sent TimeoutNow in this term, so its read lease can no longer be trusted. */
  transferAttempted = false;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId = noNode;
  /** A new conf change may be proposed only once the log is applied past this index. */
  pendingConfIndex = asIndex(0);
  uncommittedSizeBytes = 0;
  readOnly = new ReadOnlyQueue();
  /** Reads that arrived before this leader committed an entry of its term (thesis §6.4 step 1). */
  pendingReadIndexRequests: { from: NodeId; context: Uint8Array }[] = [];
  incomingSnapshot: IncomingSnapshot | undefined = undefined;
  /** A member needs a snapshot newer than the stored one, which leaves it out. */
  snapshotRequested = false;
  /** Leader: new entries to send at the next flush; commitChanged: send even if empty. */
  appendsPending = false;
  commitBroadcastPending = false;
  heartbeatContextPending: Uint8Array | undefined = undefined;

  constructor(config: RaftConfig) {
    this.id = config.id;
    this.config = config;
    this.log = new RaftLog(config.storage);
  }

  // ── Membership ─────────────────────────────────────────────────────────────────────────

  confState(): ConfState {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  setConfState(conf: ConfState): void {
    this.voters = [...conf.voters].sort((a, b) => a - b);
    this.learners = [...conf.learners].sort((a, b) => a - b);
    const members = new Set([...this.voters, ...this.learners]);
    for (const id of this.progress.keys()) {
      if (!members.has(id)) {
        this.progress.delete(id);
      }
    }
    for (const id of members) {
      const existing = this.progress.get(id);
      if (existing === undefined) {
        this.progress.set(id, this.newProgress(id));
      } else {
        existing.isLearner = this.learners.includes(id);
      }
    }
  }

  newProgress(id: NodeId): Progress {
    const progress = new Progress({
      next: asIndex(this.log.lastIndex() + 1),
      isLearner: this.learners.includes(id),
      inflights: new Inflights({
        countMax: this.config.inflightMsgsMax,
        sizeBytesMax: this.config.inflightSizeBytesMax,
      }),
    });
    if (id === this.id) {
      // NB: a leader counts its own copy toward a quorum only once it is on disk (Raft thesis
      // §10.2.1): RawNode.advance() moves this match as Readys are persisted.
      progress.match = this.log.persistedLastIndex();
    }
    return progress;
  }

  /** Voters and learners other than this node, in id order. */
  peers(): NodeId[] {
    return [...this.voters, ...this.learners].filter((id) => id !== this.id).sort((a, b) => a - b);
  }

  isVoter(): boolean {
    return this.voters.includes(this.id);
  }

  // ── Output ─────────────────────────────────────────────────────────────────────────────
  notLeader(): RaftResult {
    return refuse(
      RaftErrorCode.notLeader,
      this.leader === noNode
        ? `Retry later: node ${this.id} is not the leader and knows of none`
        : `Send this to node ${this.leader}: node ${this.id} is not the leader`,
      { leaderHint: this.leader },
    );
  }

  committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  send(m: Message): void {
    this.messages.push(m);
  }

  /** Decodes a committed confChange entry; corrupt data is an operating failure. */
  decodeConfChangeEntry(entry: Entry): ConfChange {
    const change = decodeConfChange(entry.data);
    if (change === undefined) {
      throw new RaftError(
        RaftErrorCode.logCorrupt,
        `Cannot apply entry ${entry.index}: its membership change does not decode`,
      );
    }
    return change;
  }
}
