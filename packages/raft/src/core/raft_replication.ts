/**
 * The replication half of a Raft node (Raft §5.3, Figure 2 AppendEntries; Figure 13
 * InstallSnapshot): the follower side that accepts entries, heartbeats and snapshot chunks, and
 * the leader side that tracks each peer's progress, sends appends and snapshots under flow
 * control, and commits what a quorum of voters holds.
 *
 * Invariant: a leader commits by counting replicas only entries of its own term (Raft §5.4.2).
 */
import { assert } from './assert.ts';
import { Progress, ProgressState } from './progress.ts';
import { committedIndex, quorumSize } from './quorum.ts';
import { type ReadIndexRequest } from './read_only.ts';
import {
  asIndex,
  asTerm,
  entriesSizeBytes,
  makeMessage,
  MessageType,
  Role,
  type Message,
  type NodeId,
  type SnapshotMetadata,
  type Term,
} from './types.ts';
import { RaftState } from './raft_state.ts';

/** Replication on top of the shared state; raft.ts supplies the abstract hooks. */
export abstract class RaftReplication extends RaftState {
  /** Becomes a follower of `leader` in `term` (raft.ts). */
  abstract becomeFollower(term: Term, leader: NodeId): void;
  /** Answers reads that waited for this term's first commit (raft.ts). */
  abstract releasePendingReadIndexRequests(): void;
  /** Answers a confirmed read (raft.ts). */
  abstract answerReadIndex(request: ReadIndexRequest): void;
  /** Starts a read for `from` (raft.ts). */
  abstract handleReadIndex(from: NodeId, context: Uint8Array): void;
  /** Tells a caught-up transferee to campaign now (raft.ts). */
  abstract sendTimeoutNow(to: NodeId): void;

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
      if (progress.state === ProgressState.replicate && m.rejectHint < progress.match) {
        // NB: stale. The follower's log ended below match when it rejected, yet it has since
        // acknowledged match, and acknowledged entries are durable and agree with this leader.
        // Acting on it would resend the whole window; on a link that reorders, every late
        // rejection did so again, a storm of appends (simulator seed 52).
        return;
      }
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
    if (this.ticks - progress.probeSentTick >= this.config.heartbeatIntervalTicks) {
      progress.probeSent = false; // NB: one probe per heartbeat interval, not per response
    }
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
    const acks = this.readOnly.recvAck(m.from, m.context, m.index);
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
    if (progress.state === ProgressState.probe) {
      progress.probeSentTick = this.ticks;
    }
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
      // NB: the window's entries were compacted away since they were sent, so no append can
      // probe it; fall back to probe, whose append turns into a snapshot (simulator seed 36).
      progress.becomeProbe();
      this.sendAppend(to, progress);
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
    const conf = metadata.confState;
    if (!conf.voters.includes(to) && !conf.learners.includes(to)) {
      // NB: the stored snapshot predates this member, which would ignore it (restore), so the
      // leader would resend it forever; ask the driver for a newer one (Ready.snapshotWanted).
      this.snapshotRequested = true;
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
}
