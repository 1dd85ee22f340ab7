/**
 * The Raft state machine of one node (Raft paper; Ongaro's thesis). It is sans-I/O: input comes
 * through tick() and step(), output collects in `messages`, `readStates`, `snapshotChunks` and
 * the log's unstable part, and {@link RawNode} packs it into Ready batches.
 *
 * Roles and transitions (etcd raft.go; thesis §9.6 for PreVote):
 *
 *            timeout                 pre-votes won              votes won
 *  follower ─────────▶ preCandidate ───────────────▶ candidate ───────────▶ leader
 *     ▲  ▲                  │ lost / higher term         │ lost / higher term   │
 *     │  └──────────────────┴────────────────────────────┘                      │
 *     └────────── higher term, lost quorum (CheckQuorum), removed ──────────────┘
 *
 * Time is a tick counter and randomness comes from config.randomInt, so the same inputs always
 * give the same outputs. Methods are public (not #private) so that test-only subclasses can
 * build the deliberately broken variants the simulator must catch; production code never does.
 *
 * Invariant: at most one vote per term, persisted before any message that depends on it.
 * Invariant: a leader commits by counting replicas only entries of its own term (Raft §5.4.2).
 */
import { assert } from './assert.ts';
import { leaseTicks, ReadOnlyOption, type RaftConfig } from './config.ts';
import { applyToConfState, decodeConfChange, encodeConfChange } from './conf_change.ts';
import { accepted, RaftError, RaftErrorCode, refuse, type RaftResult } from './errors.ts';
import { Inflights } from './inflights.ts';
import { validateMessage } from './message_validation.ts';
import { Progress, ProgressState } from './progress.ts';
import { committedIndex, quorumSize, voteResult, VoteResult } from './quorum.ts';
import { RaftLog } from './raft_log.ts';
import { ReadOnlyQueue, type ReadIndexRequest } from './read_only.ts';
import {
  asIndex,
  asTerm,
  ConfChangeType,
  entriesSizeBytes,
  EntryType,
  makeMessage,
  MessageType,
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

/** Kinds of campaign: PreVote first, a real election, or one started by TimeoutNow. */
export type CampaignKind = 'preElection' | 'election' | 'transfer';

/** A snapshot being received in chunks from the leader. */
interface IncomingSnapshot {
  readonly metadata: SnapshotMetadata;
  nextOffsetBytes: number;
}

function isVoteRequest(type: Message['type']): boolean {
  return type === MessageType.vote || type === MessageType.preVote;
}

/** The Raft protocol state of one node. */
export class Raft {
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
  /** Leader: new entries to send at the next flush; commitChanged: send even if empty. */
  appendsPending = false;
  commitBroadcastPending = false;
  heartbeatContextPending: Uint8Array | undefined = undefined;

  constructor(config: RaftConfig) {
    this.id = config.id;
    this.config = config;
    this.log = new RaftLog(config.storage);
    const { hardState, confState } = config.storage.initialState();
    const last = this.log.lastIndex();
    if (hardState.commit > last) {
      throw new RaftError(
        RaftErrorCode.logCorrupt,
        `Cannot start node ${this.id}: stored commit ${hardState.commit} is beyond the last log index ${last}`,
      );
    }
    // NB: everything up to the snapshot is committed even if the hard state was saved before it.
    const commit = asIndex(Math.max(hardState.commit, this.log.firstIndex() - 1));
    if (config.appliedIndex > commit) {
      throw new RaftError(
        RaftErrorCode.invalidConfig,
        `Set config field "appliedIndex" to at most the stored commit ${commit}, got ${config.appliedIndex}`,
      );
    }
    this.log.committed = commit;
    this.log.applied = asIndex(Math.max(config.appliedIndex, this.log.firstIndex() - 1));
    this.setConfState(confState);
    this.becomeFollower(hardState.term, noNode);
    this.vote = hardState.vote;
    if (config.readOnlyOption === ReadOnlyOption.leaseBased && hardState.term > 0) {
      this.restartQuietTicks = config.electionTimeoutTicks;
    }
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
      progress.match = this.log.lastIndex();
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

  /** Applies a committed membership change (called as the entry is applied). */
  applyConfChange(change: ConfChange): void {
    const wasMember = this.progress.has(change.nodeId);
    this.setConfState(applyToConfState(this.confState(), change));
    if (this.role !== Role.leader) {
      return;
    }
    const added = wasMember ? undefined : this.progress.get(change.nodeId);
    if (added !== undefined) {
      // Probe a new member with the last entry, so that the flush below contacts it now
      // instead of at the next heartbeat (etcd confchange initProgress: Next = lastIndex).
      added.next = asIndex(Math.max(this.log.lastIndex(), 1));
      // NB: a new member counts as recently active, or CheckQuorum could depose the leader
      // before the newcomer has had a chance to answer (etcd initProgress: RecentActive).
      added.recentActive = true;
    }
    if (!this.isVoter()) {
      this.config.logger.info('leader removed or demoted; stepping down', { id: this.id });
      this.becomeFollower(this.term, noNode);
      return;
    }
    if (this.leadTransferee !== noNode && !this.voters.includes(this.leadTransferee)) {
      this.abortLeaderTransfer();
    }
    if (this.maybeCommit()) {
      this.commitBroadcastPending = true;
    }
    this.appendsPending = true;
  }

  // ── Role transitions ───────────────────────────────────────────────────────────────────

  reset(term: Term): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = noNode;
    }
    this.leader = noNode;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout =
      this.config.electionTimeoutTicks + this.config.randomInt(this.config.electionTimeoutTicks);
    this.abortLeaderTransfer();
    this.transferAttempted = false;
    this.votes = new Map();
    for (const id of this.progress.keys()) {
      this.progress.set(id, this.newProgress(id));
    }
    this.pendingConfIndex = asIndex(0);
    this.uncommittedSizeBytes = 0;
    this.readOnly = new ReadOnlyQueue();
    this.pendingReadIndexRequests = [];
    this.appendsPending = false;
    this.commitBroadcastPending = false;
    this.heartbeatContextPending = undefined;
  }

  becomeFollower(term: Term, leader: NodeId): void {
    this.reset(term);
    this.role = Role.follower;
    this.leader = leader;
    this.config.logger.debug('became follower', { id: this.id, term, leader });
  }

  becomePreCandidate(): void {
    assert(this.role !== Role.leader, 'invalid transition leader -> preCandidate');
    // NB: a pre-candidate forgets its leader, or every follower would still feel "in lease"
    // and refuse the others' pre-votes after the leader dies (etcd #8334, anchors-raft §5.4).
    this.votes = new Map();
    this.leader = noNode;
    this.role = Role.preCandidate;
    this.config.logger.debug('became pre-candidate', { id: this.id, term: this.term });
  }

  becomeCandidate(): void {
    assert(this.role !== Role.leader, 'invalid transition leader -> candidate');
    this.reset(asTerm(this.term + 1));
    this.vote = this.id;
    this.role = Role.candidate;
    this.config.logger.debug('became candidate', { id: this.id, term: this.term });
  }

  becomeLeader(): void {
    assert(this.role !== Role.follower, 'invalid transition follower -> leader');
    this.reset(this.term);
    this.leader = this.id;
    this.role = Role.leader;
    this.progress.get(this.id)?.becomeReplicate();
    // Reference: Raft §5.4.2 / §8 — a new leader commits a no-op of its own term, which also
    // commits everything before it and lets ReadIndex start (thesis §6.4).
    const appended = this.appendEntries([{ type: EntryType.normal, data: new Uint8Array(0) }]);
    assert(appended, 'leader no-op refused');
    // The 2015 single-server fix: no membership change until this term's entry is committed.
    this.pendingConfIndex = this.log.lastIndex();
    this.config.logger.info('became leader', { id: this.id, term: this.term });
  }

  // ── Time ───────────────────────────────────────────────────────────────────────────────

  tick(): void {
    this.ticks++;
    if (this.restartQuietTicks > 0) {
      this.restartQuietTicks--;
    }
    if (this.role === Role.leader) {
      this.tickHeartbeat();
    } else {
      this.tickElection();
    }
  }

  tickElection(): void {
    this.electionElapsed++;
    if (this.isVoter() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup('election');
    }
  }

  tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTimeoutTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.checkQuorumActive()) {
        this.config.logger.info('leader lost contact with a quorum; stepping down', {
          id: this.id,
        });
        this.becomeFollower(this.term, noNode);
        return;
      }
      if (this.leadTransferee !== noNode) {
        this.abortLeaderTransfer();
      }
    }
    if (this.heartbeatElapsed >= this.config.heartbeatIntervalTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat(this.readOnly.lastPendingContext());
    }
  }

  /** True when a quorum of voters was heard from since the last check; resets the marks. */
  checkQuorumActive(): boolean {
    let active = 0;
    for (const id of this.voters) {
      const progress = this.progress.get(id);
      if (id === this.id || progress?.recentActive === true) {
        active++;
      }
    }
    for (const [id, progress] of this.progress) {
      progress.recentActive = id === this.id;
    }
    return active >= quorumSize(this.voters.length);
  }

  // ── Elections ──────────────────────────────────────────────────────────────────────────

  /** Starts a campaign unless this node leads, cannot vote, or has a membership change to apply. */
  hup(kind: 'election' | 'transfer'): void {
    if (this.role === Role.leader || !this.isVoter()) {
      return;
    }
    if (this.hasUnappliedConfChange()) {
      this.config.logger.warn('not campaigning: a committed membership change is not applied yet', {
        id: this.id,
      });
      return;
    }
    this.campaign(
      kind === 'transfer' ? 'transfer' : this.config.preVote ? 'preElection' : 'election',
    );
  }

  hasUnappliedConfChange(): boolean {
    if (this.log.committed <= this.log.applied) {
      return false;
    }
    const lo = asIndex(Math.max(this.log.applied + 1, this.log.firstIndex()));
    if (lo > this.log.committed) {
      return false;
    }
    const entries = this.log.slice(lo, asIndex(this.log.committed + 1), Number.MAX_SAFE_INTEGER);
    return entries.some((e) => e.type === EntryType.confChange);
  }

  campaign(kind: CampaignKind): void {
    let type: Message['type'];
    let term: Term;
    if (kind === 'preElection') {
      this.becomePreCandidate();
      type = MessageType.preVote;
      term = asTerm(this.term + 1); // NB: the pre-candidate's own term does not change
    } else {
      this.becomeCandidate();
      type = MessageType.vote;
      term = this.term;
    }
    if (this.poll(this.id, true) === VoteResult.won) {
      this.onElectionWon(kind);
      return;
    }
    for (const to of this.voters) {
      if (to === this.id) {
        continue;
      }
      this.send(
        makeMessage({
          type,
          to,
          term,
          from: this.id,
          index: this.log.lastIndex(),
          logTerm: this.log.lastTerm(),
          leaderTransfer: kind === 'transfer',
        }),
      );
    }
  }

  onElectionWon(kind: CampaignKind): void {
    if (kind === 'preElection') {
      this.campaign('election');
    } else {
      this.becomeLeader();
    }
  }

  poll(from: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(from)) {
      this.votes.set(from, granted);
    }
    return voteResult(this.voters, this.votes);
  }

  handleVoteRequest(m: Message): void {
    const responseType =
      m.type === MessageType.vote ? MessageType.voteResponse : MessageType.preVoteResponse;
    const canVote =
      this.vote === m.from ||
      (this.vote === noNode && this.leader === noNode) ||
      (m.type === MessageType.preVote && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // Reference: thesis §9.6 — answer a pre-vote with the request's term, or it is dropped.
      this.send(makeMessage({ type: responseType, from: this.id, to: m.from, term: m.term }));
      if (m.type === MessageType.vote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(
        makeMessage({
          type: responseType,
          from: this.id,
          to: m.from,
          term: this.term,
          reject: true,
        }),
      );
    }
  }

  // ── Step ───────────────────────────────────────────────────────────────────────────────

  /** Takes one message from a peer. Malformed input is refused with a typed code. */
  step(m: Message): RaftResult {
    const valid = validateMessage(m, this.config);
    if (!valid.ok) {
      this.config.logger.warn('dropped invalid message', { id: this.id, code: valid.code });
      return valid;
    }
    if (m.term > this.term) {
      if (!this.handleHigherTerm(m)) {
        return accepted;
      }
    } else if (m.term < this.term) {
      this.handleLowerTermMessage(m);
      return accepted;
    }
    if (isVoteRequest(m.type)) {
      this.handleVoteRequest(m);
      return accepted;
    }
    switch (this.role) {
      case Role.leader:
        this.stepLeader(m);
        break;
      case Role.candidate:
      case Role.preCandidate:
        this.stepCandidate(m);
        break;
      case Role.follower:
        this.stepFollower(m);
        break;
    }
    return accepted;
  }

  /** Updates the term for a newer message; false when the message is to be ignored. */
  handleHigherTerm(m: Message): boolean {
    if (isVoteRequest(m.type)) {
      const inLease =
        this.config.checkQuorum &&
        ((this.leader !== noNode && this.electionElapsed < this.config.electionTimeoutTicks) ||
          this.restartQuietTicks > 0);
      // Reference: thesis §4.2.3 — ignore a vote while we hear from a leader, unless the
      // leader itself asked for the election (leadership transfer).
      if (inLease && !m.leaderTransfer) {
        this.config.logger.debug('ignored vote request in lease', { id: this.id, from: m.from });
        return false;
      }
    }
    if (m.type === MessageType.preVote) {
      return true; // NB: never change term on a pre-vote
    }
    if (m.type === MessageType.preVoteResponse && !m.reject) {
      return true; // the term rises when the pre-candidate wins, not before
    }
    const fromLeader =
      m.type === MessageType.append ||
      m.type === MessageType.heartbeat ||
      m.type === MessageType.snapshot;
    this.becomeFollower(m.term, fromLeader ? m.from : noNode);
    return true;
  }

  /** Handles a message from an older term: answer what frees a stuck peer, drop the rest. */
  handleLowerTermMessage(m: Message): void {
    if (
      (this.config.checkQuorum || this.config.preVote) &&
      (m.type === MessageType.heartbeat || m.type === MessageType.append)
    ) {
      // A node with an inflated term gets our term back, so the stale leader steps down
      // (etcd raft.Step: "this disruption is inevitable").
      this.send(
        makeMessage({
          type: MessageType.appendResponse,
          from: this.id,
          to: m.from,
          term: this.term,
        }),
      );
    } else if (m.type === MessageType.preVote) {
      // Reject, never ignore, a lower-term pre-vote, or a mixed cluster can deadlock.
      this.send(
        makeMessage({
          type: MessageType.preVoteResponse,
          from: this.id,
          to: m.from,
          term: this.term,
          reject: true,
        }),
      );
    }
  }

  stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.append:
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleAppend(m);
        break;
      case MessageType.heartbeat:
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleHeartbeat(m);
        break;
      case MessageType.snapshot:
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleSnapshotChunk(m);
        break;
      case MessageType.timeoutNow:
        this.config.logger.info('received TimeoutNow; campaigning', { id: this.id, from: m.from });
        this.hup('transfer');
        break;
      case MessageType.readIndexResponse:
        this.readStates.push({ index: m.index, context: m.context });
        break;
      default:
        break;
    }
  }

  stepCandidate(m: Message): void {
    const myResponseType =
      this.role === Role.preCandidate ? MessageType.preVoteResponse : MessageType.voteResponse;
    switch (m.type) {
      case MessageType.append:
      case MessageType.heartbeat:
      case MessageType.snapshot:
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        break;
      case myResponseType: {
        const result = this.poll(m.from, !m.reject);
        if (result === VoteResult.won) {
          this.onElectionWon(this.role === Role.preCandidate ? 'preElection' : 'election');
        } else if (result === VoteResult.lost) {
          this.becomeFollower(this.term, noNode);
        }
        break;
      }
      default:
        break;
    }
  }

  // ── Follower side of replication ───────────────────────────────────────────────────────

  handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(
        makeMessage({
          type: MessageType.appendResponse,
          from: this.id,
          to: m.from,
          term: this.term,
          index: this.log.committed,
        }),
      );
      return;
    }
    const outcome = this.log.maybeAppend({ index: m.index, term: m.logTerm }, m.commit, m.entries);
    switch (outcome.kind) {
      case 'appended':
        this.send(
          makeMessage({
            type: MessageType.appendResponse,
            from: this.id,
            to: m.from,
            term: this.term,
            index: outcome.lastNewIndex,
          }),
        );
        break;
      case 'mismatch': {
        // Reference: Raft §5.3 optimization — hint the last index whose term is <= the
        // leader's, so the leader skips a whole term per round trip.
        const hintIndex = this.log.findConflictByTerm(
          asIndex(Math.min(m.index, this.log.lastIndex())),
          m.logTerm,
        );
        this.send(
          makeMessage({
            type: MessageType.appendResponse,
            from: this.id,
            to: m.from,
            term: this.term,
            index: m.index,
            reject: true,
            rejectHint: hintIndex,
            logTerm: this.log.term(hintIndex) ?? asTerm(0),
          }),
        );
        break;
      }
      case 'conflictsWithCommitted':
        this.config.logger.warn('dropped append that conflicts with a committed entry', {
          id: this.id,
          from: m.from,
          index: outcome.index,
        });
        break;
    }
  }

  handleHeartbeat(m: Message): void {
    this.log.commitTo(asIndex(Math.min(m.commit, this.log.lastIndex())));
    this.send(
      makeMessage({
        type: MessageType.heartbeatResponse,
        from: this.id,
        to: m.from,
        term: this.term,
        index: m.index,
        context: m.context,
      }),
    );
  }

  /**
   * Receives one InstallSnapshot chunk (Raft Figure 13). Chunks must arrive in order; each is
   * handed to the driver to stage and acknowledged once staged, so memory stays bounded by
   * one chunk. The last chunk installs the snapshot.
   */
  handleSnapshotChunk(m: Message): void {
    const chunk = m.snapshot;
    assert(chunk !== undefined, 'validated snapshot message without a chunk');
    const metadata = chunk.metadata;
    if (metadata.index <= this.log.committed) {
      this.incomingSnapshot = undefined;
      this.send(
        makeMessage({
          type: MessageType.appendResponse,
          from: this.id,
          to: m.from,
          term: this.term,
          index: this.log.committed,
        }),
      );
      return;
    }
    if (chunk.offsetBytes === 0) {
      this.incomingSnapshot = { metadata, nextOffsetBytes: 0 };
    }
    const incoming = this.incomingSnapshot;
    const sameSnapshot =
      incoming !== undefined &&
      incoming.metadata.index === metadata.index &&
      incoming.metadata.term === metadata.term;
    if (!sameSnapshot || chunk.offsetBytes !== incoming.nextOffsetBytes) {
      const next = sameSnapshot ? incoming.nextOffsetBytes : 0;
      this.sendSnapshotResponse(m.from, {
        metadata,
        offsetBytes: next,
        reject: chunk.offsetBytes > next,
      });
      return;
    }
    this.snapshotChunks.push(chunk);
    incoming.nextOffsetBytes += chunk.data.byteLength;
    if (!chunk.done) {
      this.sendSnapshotResponse(m.from, {
        metadata,
        offsetBytes: incoming.nextOffsetBytes,
        reject: false,
      });
      return;
    }
    this.incomingSnapshot = undefined;
    const index = this.restore(metadata) ? this.log.lastIndex() : this.log.committed;
    this.send(
      makeMessage({
        type: MessageType.appendResponse,
        from: this.id,
        to: m.from,
        term: this.term,
        index,
      }),
    );
  }

  sendSnapshotResponse(
    to: NodeId,
    ack: { metadata: SnapshotMetadata; offsetBytes: number; reject: boolean },
  ): void {
    this.send(
      makeMessage({
        type: MessageType.snapshotResponse,
        from: this.id,
        to,
        term: this.term,
        reject: ack.reject,
        snapshot: {
          metadata: ack.metadata,
          offsetBytes: ack.offsetBytes,
          data: new Uint8Array(0),
          done: false,
        },
      }),
    );
  }

  /** Replaces the log with a received snapshot; false when it brings nothing new. */
  restore(metadata: SnapshotMetadata): boolean {
    if (metadata.index <= this.log.committed) {
      return false;
    }
    if (this.log.matchTerm(metadata.index, metadata.term)) {
      // We already hold the snapshot's last entry: fast-forward the commit instead.
      this.log.commitTo(metadata.index);
      return false;
    }
    const conf = metadata.confState;
    if (![...conf.voters, ...conf.learners].includes(this.id)) {
      this.config.logger.warn('ignored snapshot whose membership leaves this node out', {
        id: this.id,
      });
      return false;
    }
    this.log.restore(metadata);
    this.setConfState(conf);
    for (const id of this.progress.keys()) {
      this.progress.set(id, this.newProgress(id));
    }
    this.config.logger.info('restored snapshot', {
      id: this.id,
      index: metadata.index,
      term: metadata.term,
    });
    return true;
  }

  // ── Leader side of replication ─────────────────────────────────────────────────────────

  stepLeader(m: Message): void {
    const progress = this.progress.get(m.from);
    switch (m.type) {
      case MessageType.appendResponse:
        if (progress !== undefined) {
          progress.recentActive = true;
          this.handleAppendResponse(m, progress);
        }
        break;
      case MessageType.heartbeatResponse:
        if (progress !== undefined) {
          progress.recentActive = true;
          this.handleHeartbeatResponse(m, progress);
        }
        break;
      case MessageType.snapshotResponse:
        if (progress !== undefined) {
          progress.recentActive = true;
          this.handleSnapshotResponse(m, progress);
        }
        break;
      case MessageType.readIndex:
        this.handleReadIndex(m.from, m.context);
        break;
      default:
        break;
    }
  }

  handleAppendResponse(m: Message, progress: Progress): void {
    if (m.reject) {
      const hint =
        m.logTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.logTerm) : m.rejectHint;
      if (progress.maybeDecrTo(m.index, hint)) {
        if (progress.state === ProgressState.replicate) {
          progress.becomeProbe();
        }
        this.sendAppend(m.from, progress);
      }
      return;
    }
    const wasPaused = progress.isPaused();
    const probeMatched = progress.match === m.index && progress.state === ProgressState.probe;
    if (!progress.maybeUpdate(m.index) && !probeMatched) {
      return;
    }
    if (progress.state === ProgressState.probe) {
      progress.becomeReplicate();
    } else if (
      progress.state === ProgressState.snapshot &&
      progress.match + 1 >= this.log.firstIndex()
    ) {
      progress.becomeProbe();
      progress.becomeReplicate();
    } else if (progress.state === ProgressState.replicate) {
      progress.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.commitBroadcastPending = true;
    } else if (wasPaused && !this.commitBroadcastPending) {
      // A paused follower may lack the commit index; a pending commit broadcast carries it.
      this.sendAppend(m.from, progress);
    }
    this.sendAppendsUntilPaused(m.from, progress);
    if (m.from === this.leadTransferee && progress.match === this.log.lastIndex()) {
      this.sendTimeoutNow(m.from);
    }
  }

  handleHeartbeatResponse(m: Message, progress: Progress): void {
    progress.probeSent = false;
    if (m.index <= this.ticks) {
      progress.heartbeatAckedSentTick = Math.max(progress.heartbeatAckedSentTick, m.index);
    }
    if (progress.state === ProgressState.snapshot) {
      this.sendSnapshotChunk(m.from, progress); // retransmits a chunk that may have been lost
    } else if (progress.match < this.log.lastIndex() && !this.sendAppend(m.from, progress)) {
      this.probeFullWindow(m.from, progress);
    }
    // NB: in leaseBased mode too, since a read made without a valid lease falls back to this
    // heartbeat round (startReadIndex) and only the round can answer it.
    if (m.context.byteLength === 0) {
      return;
    }
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === undefined) {
      return;
    }
    const voterAcks = this.voters.filter((id) => acks.has(id)).length;
    if (voterAcks < quorumSize(this.voters.length)) {
      return;
    }
    for (const request of this.readOnly.advance(m.context)) {
      this.answerReadIndex(request);
    }
  }

  handleSnapshotResponse(m: Message, progress: Progress): void {
    const ack = m.snapshot;
    if (
      ack === undefined ||
      progress.state !== ProgressState.snapshot ||
      ack.metadata.index !== progress.pendingSnapshot
    ) {
      return;
    }
    // NB: an acknowledgement names the next offset the follower expects. One that does not
    // move past the chunk in flight is a duplicate, unless the follower asks to go back.
    if (!m.reject && ack.offsetBytes <= progress.snapshotOffsetBytes) {
      return;
    }
    progress.snapshotOffsetBytes = ack.offsetBytes;
    progress.snapshotChunkInFlight = false;
    this.sendSnapshotChunk(m.from, progress);
  }

  /** Commits what a quorum of voters has matched, if it is of this term (Raft §5.4.2). */
  maybeCommit(): boolean {
    const index = committedIndex(this.voters, (id) => this.progress.get(id)?.match ?? asIndex(0));
    if (!this.log.maybeCommit(index, this.term)) {
      return false;
    }
    this.releasePendingReadIndexRequests();
    return true;
  }

  /** Sends an append, or the snapshot when the needed entries are gone; false if nothing sent. */
  sendAppend(to: NodeId, progress: Progress, sendIfEmpty = true): boolean {
    if (progress.isPaused()) {
      return false;
    }
    const prevIndex = asIndex(progress.next - 1);
    const prevTerm = this.log.term(prevIndex);
    const entries = this.log.entriesFrom(progress.next, this.config.messageSizeBytesMax);
    if (prevTerm === undefined || entries === undefined) {
      return this.startSnapshot(to, progress);
    }
    const last = entries[entries.length - 1];
    if (last === undefined && !sendIfEmpty) {
      return false;
    }
    this.send(
      makeMessage({
        type: MessageType.append,
        from: this.id,
        to,
        term: this.term,
        index: prevIndex,
        logTerm: prevTerm,
        entries,
        commit: this.log.committed,
      }),
    );
    progress.sentEntries(last?.index ?? prevIndex, entries.length, entriesSizeBytes(entries));
    return true;
  }

  /**
   * Sends an empty append at the optimistic next index through a full replicate window. If the
   * window's appends were lost, the follower rejects it and the leader falls back to probe;
   * if they were only slow, its acknowledgement frees the window. Without this a window lost in
   * full stalls the follower until the next election (etcd: a heartbeat response lets one
   * append through a full window).
   */
  probeFullWindow(to: NodeId, progress: Progress): void {
    if (progress.state !== ProgressState.replicate || !progress.inflights.full()) {
      return;
    }
    const prevIndex = asIndex(progress.next - 1);
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) {
      return;
    }
    this.send(
      makeMessage({
        type: MessageType.append,
        from: this.id,
        to,
        term: this.term,
        index: prevIndex,
        logTerm: prevTerm,
        entries: [],
        commit: this.log.committed,
      }),
    );
  }

  /** Pipelines appends to a replicating follower until its window is full or it is current. */
  sendAppendsUntilPaused(to: NodeId, progress: Progress): void {
    while (this.sendAppend(to, progress, false)) {
      if (progress.state !== ProgressState.replicate) {
        break;
      }
    }
  }

  startSnapshot(to: NodeId, progress: Progress): boolean {
    const metadata = this.log.snapshotMetadata();
    if (metadata.index === 0) {
      this.config.logger.warn('cannot send snapshot: none taken yet', { id: this.id, to });
      return false;
    }
    progress.becomeSnapshot(metadata.index);
    this.config.logger.info('sending snapshot', { id: this.id, to, index: metadata.index });
    this.sendSnapshotChunk(to, progress);
    return true;
  }

  sendSnapshotChunk(to: NodeId, progress: Progress): void {
    const storage = this.log.storage;
    let slice = storage.snapshotChunk(
      progress.pendingSnapshot,
      progress.snapshotOffsetBytes,
      this.config.snapshotChunkSizeBytes,
    );
    if (slice === undefined) {
      // The snapshot was replaced by a newer one: start over with it.
      progress.becomeSnapshot(storage.snapshotMetadata().index);
      slice = storage.snapshotChunk(
        progress.pendingSnapshot,
        0,
        this.config.snapshotChunkSizeBytes,
      );
      assert(slice !== undefined, 'latest snapshot unreadable');
    }
    const metadata = storage.snapshotMetadata();
    this.send(
      makeMessage({
        type: MessageType.snapshot,
        from: this.id,
        to,
        term: this.term,
        snapshot: {
          metadata,
          offsetBytes: progress.snapshotOffsetBytes,
          data: slice.data,
          done: slice.done,
        },
      }),
    );
    progress.snapshotChunkInFlight = true;
  }

  broadcastHeartbeat(context: Uint8Array | undefined): void {
    for (const to of this.peers()) {
      const progress = this.progress.get(to);
      const commit = asIndex(Math.min(progress?.match ?? 0, this.log.committed));
      this.send(
        makeMessage({
          type: MessageType.heartbeat,
          from: this.id,
          to,
          term: this.term,
          commit,
          index: asIndex(this.ticks),
          ...(context === undefined ? {} : { context }),
        }),
      );
    }
  }

  /** Sends what accumulated since the last Ready: new entries, commit news, read rounds. */
  flush(): void {
    if (this.role !== Role.leader) {
      return;
    }
    if (this.appendsPending || this.commitBroadcastPending) {
      for (const to of this.peers()) {
        const progress = this.progress.get(to);
        if (progress !== undefined && !this.sendAppend(to, progress, this.commitBroadcastPending)) {
          continue;
        }
        if (progress !== undefined) {
          this.sendAppendsUntilPaused(to, progress);
        }
      }
      this.appendsPending = false;
      this.commitBroadcastPending = false;
    }
    if (this.heartbeatContextPending !== undefined) {
      this.broadcastHeartbeat(this.heartbeatContextPending);
      this.heartbeatContextPending = undefined;
    }
  }

  hasPendingFlush(): boolean {
    return (
      this.role === Role.leader &&
      (this.appendsPending ||
        this.commitBroadcastPending ||
        this.heartbeatContextPending !== undefined)
    );
  }

  // ── Proposals ──────────────────────────────────────────────────────────────────────────

  /** Appends entries of this term; false when the uncommitted log would pass its limit. */
  appendEntries(items: readonly { type: Entry['type']; data: Uint8Array }[]): boolean {
    const first = this.log.lastIndex() + 1;
    const entries: Entry[] = items.map((item, i) => ({
      term: this.term,
      index: asIndex(first + i),
      type: item.type,
      data: item.data,
    }));
    const sizeBytes = entriesSizeBytes(entries);
    if (
      this.uncommittedSizeBytes > 0 &&
      sizeBytes > 0 &&
      this.uncommittedSizeBytes + sizeBytes > this.config.uncommittedSizeBytesMax
    ) {
      return false;
    }
    this.uncommittedSizeBytes += sizeBytes;
    const last = this.log.append(entries);
    this.progress.get(this.id)?.maybeUpdate(last);
    this.maybeCommit();
    this.appendsPending = true;
    return true;
  }

  /** Releases the uncommitted budget of entries that have been committed. */
  reduceUncommittedSize(entries: readonly Entry[]): void {
    if (this.role !== Role.leader) {
      return;
    }
    this.uncommittedSizeBytes = Math.max(0, this.uncommittedSizeBytes - entriesSizeBytes(entries));
  }

  notLeader(): RaftResult {
    return refuse(
      RaftErrorCode.notLeader,
      this.leader === noNode
        ? `Retry later: node ${this.id} is not the leader and knows of none`
        : `Send this to node ${this.leader}: node ${this.id} is not the leader`,
      { leaderHint: this.leader },
    );
  }

  /** Proposes application data; only the leader accepts. */
  propose(data: readonly Uint8Array[]): RaftResult {
    if (this.role !== Role.leader) {
      return this.notLeader();
    }
    if (this.leadTransferee !== noNode) {
      return refuse(
        RaftErrorCode.proposalDropped,
        `Retry later: leadership is moving to node ${this.leadTransferee}`,
      );
    }
    if (!this.appendEntries(data.map((d) => ({ type: EntryType.normal, data: d })))) {
      return refuse(
        RaftErrorCode.proposalDropped,
        `Retry later: uncommitted entries reached uncommittedSizeBytesMax ${this.config.uncommittedSizeBytesMax}`,
      );
    }
    return accepted;
  }

  /** Proposes one single-server membership change (one pending at a time). */
  proposeConfChange(change: ConfChange): RaftResult {
    if (this.role !== Role.leader) {
      return this.notLeader();
    }
    if (this.pendingConfIndex > this.log.applied) {
      return refuse(
        RaftErrorCode.confChangePending,
        `Retry once index ${this.pendingConfIndex} is applied: a membership change, or this leader's first entry, is not applied yet`,
      );
    }
    const problem = this.confChangeProblem(change);
    if (problem !== undefined) {
      return refuse(RaftErrorCode.invalidConfChange, problem);
    }
    if (!this.appendEntries([{ type: EntryType.confChange, data: encodeConfChange(change) }])) {
      return refuse(RaftErrorCode.proposalDropped, 'Retry later: the uncommitted log is full');
    }
    this.pendingConfIndex = this.log.lastIndex();
    return accepted;
  }

  confChangeProblem(change: ConfChange): string | undefined {
    const id = change.nodeId;
    if (!Number.isSafeInteger(id) || id <= 0) {
      return `Name a positive node id, got ${id}`;
    }
    const after = applyToConfState(this.confState(), change);
    if (after.voters.length === 0) {
      return `Keep at least one voter: the change would remove node ${id}, the last voter`;
    }
    const isMember = this.voters.includes(id) || this.learners.includes(id);
    if (change.type === ConfChangeType.removeNode && !isMember) {
      return `Name a member to remove: node ${id} is not in the cluster`;
    }
    const progress = this.progress.get(id);
    if (
      change.type === ConfChangeType.addVoter &&
      this.learners.includes(id) &&
      progress !== undefined &&
      this.log.committed - progress.match > this.config.promotionLagEntriesMax
    ) {
      return `Wait for learner ${id} to catch up before promoting it: it matched ${progress.match}, commit is ${this.log.committed}`;
    }
    return undefined;
  }

  // ── Linearizable reads ─────────────────────────────────────────────────────────────────

  /** Requests a read index (thesis §6.4); the answer arrives as a ReadState. */
  readIndex(context: Uint8Array): RaftResult {
    if (this.role === Role.leader) {
      this.handleReadIndex(this.id, context);
      return accepted;
    }
    if (this.role !== Role.follower || this.leader === noNode) {
      return this.notLeader();
    }
    this.send(
      makeMessage({
        type: MessageType.readIndex,
        from: this.id,
        to: this.leader,
        term: this.term,
        context,
      }),
    );
    return accepted;
  }

  committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  handleReadIndex(from: NodeId, context: Uint8Array): void {
    if (!this.committedEntryInCurrentTerm()) {
      // Reference: thesis §6.4 step 1 — until this term's no-op commits, the commit index
      // may lag what an earlier leader committed.
      this.pendingReadIndexRequests.push({ from, context });
      return;
    }
    this.startReadIndex(from, context);
  }

  startReadIndex(from: NodeId, context: Uint8Array): void {
    const index = this.log.committed;
    const soleVoter = this.voters.length === 1 && this.voters[0] === this.id;
    if (soleVoter || this.holdsReadLease()) {
      this.answerReadIndex({ index, from, context, acks: new Set() });
      return;
    }
    this.readOnly.add({ index, from, context });
    this.readOnly.recvAck(this.id, context);
    this.heartbeatContextPending = context;
  }

  /**
   * Whether the leader may answer a read from its lease (thesis §6.4.1): a quorum answered a
   * heartbeat sent less than leaseTicks ago, and no transfer was attempted in this term.
   */
  holdsReadLease(): boolean {
    if (this.config.readOnlyOption !== ReadOnlyOption.leaseBased || !this.config.checkQuorum) {
      return false;
    }
    if (this.leadTransferee !== noNode || this.transferAttempted) {
      return false;
    }
    const sentTicks = this.voters
      .map((id) =>
        id === this.id ? this.ticks : (this.progress.get(id)?.heartbeatAckedSentTick ?? -Infinity),
      )
      .sort((a, b) => b - a);
    const quorumSentTick = sentTicks[quorumSize(this.voters.length) - 1] ?? -Infinity;
    return this.ticks - quorumSentTick < leaseTicks(this.config);
  }

  releasePendingReadIndexRequests(): void {
    if (this.pendingReadIndexRequests.length === 0 || !this.committedEntryInCurrentTerm()) {
      return;
    }
    const pending = this.pendingReadIndexRequests;
    this.pendingReadIndexRequests = [];
    for (const { from, context } of pending) {
      this.startReadIndex(from, context);
    }
  }

  answerReadIndex(request: ReadIndexRequest): void {
    if (request.from === this.id) {
      this.readStates.push({ index: request.index, context: request.context });
    } else {
      this.send(
        makeMessage({
          type: MessageType.readIndexResponse,
          from: this.id,
          to: request.from,
          term: this.term,
          index: request.index,
          context: request.context,
        }),
      );
    }
  }

  // ── Leadership transfer ────────────────────────────────────────────────────────────────

  /** Hands leadership to a caught-up voter by TimeoutNow (thesis §3.10). */
  transferLeader(to: NodeId): RaftResult {
    if (this.role !== Role.leader) {
      return this.notLeader();
    }
    if (to === this.id || !this.voters.includes(to)) {
      return refuse(
        RaftErrorCode.invalidConfChange,
        `Name another voter to lead: node ${to} is ${to === this.id ? 'already the leader' : 'not a voter'}`,
      );
    }
    if (this.leadTransferee === to) {
      return accepted;
    }
    this.abortLeaderTransfer();
    // The transfer must finish within one election timeout, or it is abandoned.
    this.electionElapsed = 0;
    this.leadTransferee = to;
    const progress = this.progress.get(to);
    if (progress !== undefined && progress.match === this.log.lastIndex()) {
      this.sendTimeoutNow(to);
    } else if (progress !== undefined) {
      this.sendAppend(to, progress);
    }
    return accepted;
  }

  sendTimeoutNow(to: NodeId): void {
    this.transferAttempted = true;
    this.send(makeMessage({ type: MessageType.timeoutNow, from: this.id, to, term: this.term }));
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = noNode;
  }

  // ── Output ─────────────────────────────────────────────────────────────────────────────

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
