/**
 * The single-threaded API of the core (etcd rawnode.go). A driver loops:
 *
 *   tick() / step(message) / propose(...) ...     input, any number of times
 *   if (hasReady()) {
 *     const ready = node.ready();
 *     send a leader's appends and heartbeats now, if term and vote are unchanged (optional:
 *       node/early_messages.ts, Raft thesis §10.2.1)
 *     persist ready.snapshotChunks, ready.snapshot, ready.entries, ready.hardState  (sync if mustSync)
 *     send the other messages
 *     apply ready.snapshot data, then ready.committedEntries; serve ready.readStates
 *     node.advance(ready);   ← also where a leader counts its own, now persisted, entries
 *   }
 *
 * Invariant: at most one Ready is outstanding; ready() asserts that advance() came first.
 */
import { assert } from './assert.ts';
import { makeConfig, type RaftConfigInput } from './config.ts';
import type { RaftResult } from './errors.ts';
import { Raft } from './raft.ts';
import {
  EntryType,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type LogIndex,
  type Message,
  type NodeId,
  type ReadState,
  type SnapshotChunk,
  type SnapshotMetadata,
  type SoftState,
} from './types.ts';

/** One batch of work for the driver, in the order it must be done. */
export interface Ready {
  /** Set when the leader or role changed since the last Ready. */
  readonly softState: SoftState | undefined;
  /** Set when term, vote or commit changed: persist it before sending any answer (votes, acks). */
  readonly hardState: HardState | undefined;
  /** Snapshot chunks from the leader to stage, in order (offset 0 starts a new snapshot). */
  readonly snapshotChunks: readonly SnapshotChunk[];
  /** A fully received snapshot: install the staged data as the state and the log base. */
  readonly snapshot: SnapshotMetadata | undefined;
  /** Entries to append to durable storage (replacing any conflicting suffix). */
  readonly entries: readonly Entry[];
  /** Entries known committed, to apply in order after persisting. */
  readonly committedEntries: readonly Entry[];
  /**
   * Messages to send after persisting; a leader's appends and heartbeats may go before when
   * term and vote are unchanged (see node/early_messages.ts).
   */
  readonly messages: readonly Message[];
  /** Reads that may be served once the state machine has applied their index. */
  readonly readStates: readonly ReadState[];
  /** The hard state or entries must reach the disk with an fsync before any answer goes out. */
  readonly mustSync: boolean;
  /**
   * Entries applied since the last snapshot reached logEntriesMax, or the log's payload reached
   * logSizeBytesMax, or the leader must send a snapshot to a member that the stored snapshot
   * leaves out: take a snapshot at the applied index.
   */
  readonly snapshotWanted: boolean;
}

/** What a driver may ask of the node's status. */
export interface BasicStatus {
  readonly id: NodeId;
  readonly softState: SoftState;
  readonly hardState: HardState;
  readonly applied: LogIndex;
  readonly lastIndex: LogIndex;
  readonly confState: ConfState;
  readonly leadTransferee: NodeId;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** A Raft node without I/O: feed it input, drain Ready batches, acknowledge with advance(). */
export class RawNode {
  readonly raft: Raft;
  #previousHardState: HardState;
  #previousSoftState: SoftState;
  #outstanding = false;

  /** Validates the config (COFFER_RAFT_INVALID_CONFIG) and restores from the storage port. */
  constructor(input: RaftConfigInput | Raft) {
    this.raft = input instanceof Raft ? input : new Raft(makeConfig(input));
    this.#previousHardState = this.hardState();
    this.#previousSoftState = this.softState();
  }

  hardState(): HardState {
    const r = this.raft;
    return { term: r.term, vote: r.vote, commit: r.log.committed };
  }

  softState(): SoftState {
    return { leader: this.raft.leader, role: this.raft.role };
  }

  /** Advances logical time by one tick. */
  tick(): void {
    this.raft.tick();
  }

  /** Takes a message from a peer; malformed input is refused with a typed code. */
  step(message: Message): RaftResult {
    return this.raft.step(message);
  }

  /** Starts an election now (used by tests and by operators forcing a campaign). */
  campaign(): void {
    this.raft.hup('election');
  }

  /** Proposes entries as one batch; a follower answers COFFER_RAFT_NOT_LEADER with a hint. */
  propose(data: readonly Uint8Array[]): RaftResult {
    return this.raft.propose(data);
  }

  /** Proposes a single-server membership change. */
  proposeConfChange(change: ConfChange): RaftResult {
    return this.raft.proposeConfChange(change);
  }

  /** Asks for a linearizable read point named by context (unique per request). */
  readIndex(context: Uint8Array): RaftResult {
    return this.raft.readIndex(context);
  }

  /** Hands leadership to a caught-up voter. */
  transferLeader(to: NodeId): RaftResult {
    return this.raft.transferLeader(to);
  }

  /** An established connection to peer `id` broke (see {@link Raft.peerLost}). */
  reportPeerLost(id: NodeId): void {
    this.raft.peerLost(id);
  }

  /** The transport could not reach a peer: fall back to probing it. */
  reportUnreachable(id: NodeId): void {
    const progress = this.raft.progress.get(id);
    if (this.raft.role === 'leader' && progress?.state === 'replicate') {
      progress.becomeProbe();
    }
  }

  /** Whether a Ready batch has work in it. */
  hasReady(): boolean {
    const r = this.raft;
    return (
      r.hasPendingFlush() ||
      r.messages.length > 0 ||
      r.readStates.length > 0 ||
      r.snapshotChunks.length > 0 ||
      r.log.unstable.entries.length > 0 ||
      r.log.unstable.snapshot !== undefined ||
      r.log.hasNextCommittedEntries() ||
      !sameHardState(this.hardState(), this.#previousHardState) ||
      this.softState().leader !== this.#previousSoftState.leader ||
      this.softState().role !== this.#previousSoftState.role
    );
  }

  /** Collects the next batch of work. Call advance() with it before the next ready(). */
  ready(): Ready {
    assert(!this.#outstanding, 'ready() called before advance() of the previous Ready');
    const r = this.raft;
    r.flush();
    const hardState = this.hardState();
    const softState = this.softState();
    const entries = [...r.log.unstable.entries];
    const hardChanged = !sameHardState(hardState, this.#previousHardState);
    const softChanged =
      softState.leader !== this.#previousSoftState.leader ||
      softState.role !== this.#previousSoftState.role;
    const ready: Ready = {
      softState: softChanged ? softState : undefined,
      hardState: hardChanged ? hardState : undefined,
      snapshotChunks: r.snapshotChunks,
      snapshot: r.log.unstable.snapshot,
      entries,
      committedEntries: r.log.nextCommittedEntries(r.config.committedSizeBytesPerReadyMax),
      messages: r.messages,
      readStates: r.readStates,
      mustSync:
        entries.length > 0 ||
        r.log.unstable.snapshot !== undefined ||
        hardState.term !== this.#previousHardState.term ||
        hardState.vote !== this.#previousHardState.vote,
      snapshotWanted: this.#snapshotWanted(),
    };
    r.messages = [];
    r.readStates = [];
    r.snapshotChunks = [];
    this.#outstanding = true;
    return ready;
  }

  #snapshotWanted(): boolean {
    const r = this.raft;
    const sinceSnapshot = r.log.applied - r.log.snapshotMetadata().index;
    const requested = r.snapshotRequested;
    r.snapshotRequested = false;
    if (sinceSnapshot <= 0) {
      return false;
    }
    return (
      requested ||
      sinceSnapshot >= r.config.logEntriesMax ||
      r.log.storage.logSizeBytes() >= r.config.logSizeBytesMax
    );
  }

  /** Acknowledges that a Ready was persisted, sent and applied. */
  advance(ready: Ready): void {
    assert(this.#outstanding, 'advance() without an outstanding Ready');
    this.#outstanding = false;
    const r = this.raft;
    if (ready.hardState !== undefined) {
      this.#previousHardState = ready.hardState;
    }
    if (ready.softState !== undefined) {
      this.#previousSoftState = ready.softState;
    }
    if (ready.snapshot !== undefined) {
      r.log.stableSnapTo(ready.snapshot.index);
      r.log.appliedTo(ready.snapshot.index);
    }
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) {
      r.log.stableTo(lastEntry.index, lastEntry.term);
    }
    r.onPersisted();
    this.#applied(ready.committedEntries);
  }

  #applied(entries: readonly Entry[]): void {
    const r = this.raft;
    const last = entries[entries.length - 1];
    if (last === undefined) {
      return;
    }
    for (const entry of entries) {
      if (entry.type === EntryType.confChange) {
        r.applyConfChange(r.decodeConfChangeEntry(entry));
      }
    }
    r.log.appliedTo(last.index);
    r.reduceUncommittedSize(entries);
    r.releasePendingReadIndexRequests();
  }

  /** A summary of the node for status pages and tests. */
  status(): BasicStatus {
    const r = this.raft;
    return {
      id: r.id,
      softState: this.softState(),
      hardState: this.hardState(),
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      confState: r.confState(),
      leadTransferee: r.leadTransferee,
    };
  }
}
