/**
 * What a leader knows of one follower's log, and how it sends to it (etcd design.md):
 *
 *   probe ──(append accepted)──▶ replicate ──(append rejected)──▶ probe
 *     │  ▲                                                       │
 *     │  └───────(snapshot installed, or transfer failed)────────┤
 *     └──────────(needed entries compacted away)──────────▶ snapshot
 *
 * probe: one append per heartbeat interval until the follower's match is found.
 * replicate: appends are pipelined optimistically, bounded by {@link Inflights}.
 * snapshot: nothing but the snapshot's chunks is sent until it is installed.
 *
 * Invariant: match < next.
 */
import { Inflights } from './inflights.ts';
import { asIndex, type LogIndex } from './types.ts';

/** The sending states of a follower's progress. */
export const ProgressState = {
  probe: 'probe',
  replicate: 'replicate',
  snapshot: 'snapshot',
} as const;
/** Union of {@link ProgressState} values. */
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/** The leader's view of one peer (voter or learner). */
export class Progress {
  match: LogIndex = asIndex(0);
  next: LogIndex;
  state: ProgressState = ProgressState.probe;
  /** In probe state: an append was sent this heartbeat interval, wait before the next. */
  probeSent = false;
  /**
   * The leader tick at which the last probe was sent. A heartbeat response lets the next probe
   * through only a heartbeat interval later: every ReadIndex round broadcasts a heartbeat, and
   * a probe per answer would bury the follower under redundant full appends.
   */
  probeSentTick = Number.NEGATIVE_INFINITY;
  /** The peer was heard from since the last CheckQuorum round. */
  recentActive = false;
  isLearner: boolean;
  /** The leader tick at which it sent the newest heartbeat this peer answered (for leases). */
  heartbeatAckedSentTick = Number.NEGATIVE_INFINITY;
  readonly inflights: Inflights;
  /** In snapshot state: the index of the snapshot being sent and the next offset to send. */
  pendingSnapshot: LogIndex = asIndex(0);
  snapshotOffsetBytes = 0;
  snapshotChunkInFlight = false;

  constructor(options: { next: LogIndex; isLearner: boolean; inflights: Inflights }) {
    this.next = options.next;
    this.isLearner = options.isLearner;
    this.inflights = options.inflights;
  }

  #resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = asIndex(0);
    this.snapshotOffsetBytes = 0;
    this.snapshotChunkInFlight = false;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.snapshot) {
      const pending = this.pendingSnapshot;
      this.#resetState(ProgressState.probe);
      this.next = asIndex(Math.max(this.match + 1, pending + 1));
    } else {
      this.#resetState(ProgressState.probe);
      this.next = asIndex(this.match + 1);
    }
  }

  becomeReplicate(): void {
    this.#resetState(ProgressState.replicate);
    this.next = asIndex(this.match + 1);
  }

  becomeSnapshot(snapshotIndex: LogIndex): void {
    this.#resetState(ProgressState.snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records an acknowledgement up to index; false when it was stale. */
  maybeUpdate(index: LogIndex): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = asIndex(Math.max(this.next, index + 1));
    return updated;
  }

  /**
   * Records that an append of `count` entries ending at lastIndex was sent; in replicate state
   * next moves optimistically. An empty append takes no inflight slot.
   */
  sentEntries(lastIndex: LogIndex, count: number, sizeBytes: number): void {
    if (this.state === ProgressState.replicate) {
      if (count === 0) {
        return;
      }
      this.next = asIndex(lastIndex + 1);
      this.inflights.add(lastIndex, sizeBytes);
    } else if (this.state === ProgressState.probe) {
      this.probeSent = true;
    }
  }

  /**
   * Handles a rejection of the append that followed `rejected`; `hint` is where to resume.
   * False when the rejection is stale.
   */
  maybeDecrTo(rejected: LogIndex, hint: LogIndex): boolean {
    if (this.state === ProgressState.replicate) {
      if (rejected <= this.match) {
        return false;
      }
      this.next = asIndex(this.match + 1);
      return true;
    }
    if (this.next - 1 !== rejected) {
      return false;
    }
    this.next = asIndex(Math.max(Math.min(rejected, hint + 1), this.match + 1, 1));
    this.probeSent = false;
    return true;
  }

  /** Whether appends to this peer must wait. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.probe:
        return this.probeSent;
      case ProgressState.replicate:
        return this.inflights.full();
      case ProgressState.snapshot:
        return true;
    }
  }
}
