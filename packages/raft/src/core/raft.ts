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
import { applyToConfState, encodeConfChange } from './conf_change.ts';
import { accepted, RaftError, RaftErrorCode, refuse, type RaftResult } from './errors.ts';
import { validateMessage } from './message_validation.ts';
import { quorumSize, voteResult, VoteResult } from './quorum.ts';
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
  type Term,
} from './types.ts';
import { RaftReplication } from './raft_replication.ts';

/** How many bytes of entries the restart replay of membership changes reads at a time. */
const replayPageBytes = 4 * 1024 * 1024;

/** Kinds of campaign: PreVote first, a real election, or one started by TimeoutNow. */
export type CampaignKind = 'preElection' | 'election' | 'transfer';

function isVoteRequest(type: Message['type']): boolean {
  return type === MessageType.vote || type === MessageType.preVote;
}

/** The Raft protocol state of one node. */
export class Raft extends RaftReplication {
  constructor(config: RaftConfig) {
    super(config);
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
    this.setConfState(this.#appliedMembership(confState, config));
    this.becomeFollower(hardState.term, noNode);
    this.vote = hardState.vote;
    if (config.readOnlyOption === ReadOnlyOption.leaseBased && hardState.term > 0) {
      this.restartQuietTicks = config.electionTimeoutTicks;
    }
  }

  // ── Membership ─────────────────────────────────────────────────────────────────────────

  /**
   * The membership at the applied index: the stored one (the snapshot's, or the first) with
   * every membership change in the log up to the applied index replayed. Those entries are not
   * delivered again, so without this a restarted node would forget them (and a node that grew
   * from one voter would campaign alone). Later ones apply when delivered, as on any node.
   */
  #appliedMembership(stored: ConfState, config: RaftConfig): ConfState {
    let conf = stored;
    const applied = this.log.applied;
    for (let lo = config.storage.firstIndex(); lo <= applied;) {
      const entries = config.storage.entries(lo, asIndex(applied + 1), replayPageBytes);
      for (const entry of entries) {
        if (entry.type === EntryType.confChange) {
          conf = applyToConfState(conf, this.decodeConfChangeEntry(entry));
        }
      }
      const last = entries.at(-1);
      assert(last !== undefined, 'the log holds every entry up to the applied index');
      lo = asIndex(last.index + 1);
    }
    return conf;
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

  // ── Role transitions ─────────────────────────────────────────────────────────────────────

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

  // ── Time ─────────────────────────────────────────────────────────────────────────────────

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

  /**
   * An established connection to peer `id` broke: its process died or the link went down. A
   * follower whose leader that is ends the leader's lease at once, as if a whole election
   * timeout had passed without a word from it: it grants other nodes' pre-votes and votes, and
   * campaigns after the randomized part of its timeout, [0, electionTimeoutTicks) ticks, instead
   * of [1, 2) timeouts. Both followers of a dead leader see their connections break, so a
   * failover takes about a third of an election timeout instead of one and a third. Safety does
   * not rest on it (only timing changes), and with PreVote a false alarm cannot disrupt: the
   * voters that still hear the leader refuse the pre-vote.
   */
  peerLost(id: NodeId): void {
    if (
      this.role === Role.follower &&
      this.leader === id &&
      this.electionElapsed < this.config.electionTimeoutTicks
    ) {
      this.config.logger.info('lost the connection to the leader', { id: this.id, leader: id });
      this.electionElapsed = this.config.electionTimeoutTicks;
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

  // ── Elections ────────────────────────────────────────────────────────────────────────────

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

  // ── Step ─────────────────────────────────────────────────────────────────────────────────

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
    this.log.append(entries);
    this.appendsPending = true;
    return true;
  }

  /**
   * The driver persisted a Ready: a leader now counts its own copy of those entries (thesis
   * §10.2.1), which may commit them (in a one-voter cluster, this is what commits).
   */
  onPersisted(): void {
    if (this.role !== Role.leader) {
      return;
    }
    const self = this.progress.get(this.id);
    if (self?.maybeUpdate(this.log.persistedLastIndex()) === true && this.maybeCommit()) {
      this.commitBroadcastPending = true;
    }
  }

  /** Releases the uncommitted budget of entries that have been committed. */
  reduceUncommittedSize(entries: readonly Entry[]): void {
    if (this.role !== Role.leader) {
      return;
    }
    this.uncommittedSizeBytes = Math.max(0, this.uncommittedSizeBytes - entriesSizeBytes(entries));
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
    this.readOnly.add({ index, from, context }, this.ticks);
    this.readOnly.recvAck(this.id, context, this.ticks);
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
}
