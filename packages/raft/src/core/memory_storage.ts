/**
 * An in-memory {@link LogStorage} that a driver or test updates after each Ready: it appends
 * the entries, sets the hard state, installs and creates snapshots, and compacts.
 *
 * Invariant: entries[0] is a dummy that holds the snapshot's index and term; the entries after
 * it have consecutive indexes and non-decreasing terms.
 */
import { RaftError, RaftErrorCode } from './errors.ts';
import type { InitialState, LogStorage, SnapshotData } from './storage.ts';
import {
  asIndex,
  asTerm,
  entriesSizeBytes,
  EntryType,
  noNode,
  type ConfState,
  type Entry,
  type HardState,
  type LogIndex,
  type SnapshotMetadata,
  type Term,
} from './types.ts';

function dummyEntry(index: LogIndex, term: Term): Entry {
  return { index, term, type: EntryType.normal, data: new Uint8Array(0) };
}

function corrupt(message: string): RaftError {
  return new RaftError(RaftErrorCode.logCorrupt, message);
}

/** The log, hard state and latest snapshot of one node, held in memory. */
export class MemoryStorage implements LogStorage {
  #entries: Entry[];
  #hardState: HardState;
  #snapshot: { metadata: SnapshotMetadata; data: Uint8Array };
  /** Payload bytes of the entries after the dummy, kept up to date by every change. */
  #sizeBytes = 0;

  /** A storage for a new node whose initial membership is confState. */
  constructor(confState: ConfState = { voters: [], learners: [] }) {
    this.#entries = [dummyEntry(asIndex(0), asTerm(0))];
    this.#hardState = { term: asTerm(0), vote: noNode, commit: asIndex(0) };
    this.#snapshot = {
      metadata: { index: asIndex(0), term: asTerm(0), confState },
      data: new Uint8Array(0),
    };
  }

  initialState(): InitialState {
    return { hardState: this.#hardState, confState: this.#snapshot.metadata.confState };
  }

  /** The hard state last set. */
  hardState(): HardState {
    return this.#hardState;
  }

  /** Records the hard state of a Ready batch. */
  setHardState(hardState: HardState): void {
    this.#hardState = hardState;
  }

  /** The dummy entry at position 0 carries the snapshot index. */
  #offset(): number {
    return this.#dummy().index;
  }

  #dummy(): Entry {
    const first = this.#entries[0];
    if (first === undefined) {
      throw corrupt('Memory log lost its dummy entry');
    }
    return first;
  }

  firstIndex(): LogIndex {
    return asIndex(this.#offset() + 1);
  }

  lastIndex(): LogIndex {
    return asIndex(this.#offset() + this.#entries.length - 1);
  }

  term(index: LogIndex): Term | undefined {
    const position = index - this.#offset();
    if (position < 0 || position >= this.#entries.length) {
      return undefined;
    }
    return this.#entries[position]?.term;
  }

  entries(lo: LogIndex, hi: LogIndex, sizeBytesMax: number): readonly Entry[] {
    if (lo < this.firstIndex() || hi > this.lastIndex() + 1 || lo >= hi) {
      throw new RaftError(
        RaftErrorCode.logUnavailable,
        `Cannot read entries [${lo}, ${hi}): log holds [${this.firstIndex()}, ${this.lastIndex() + 1})`,
      );
    }
    const offset = this.#offset();
    const out: Entry[] = [];
    let sizeBytes = 0;
    for (let i = lo; i < hi; i++) {
      const entry = this.#entries[i - offset];
      if (entry === undefined) {
        break;
      }
      sizeBytes += entry.data.byteLength;
      if (out.length > 0 && sizeBytes > sizeBytesMax) {
        break;
      }
      out.push(entry);
    }
    return out;
  }

  snapshotMetadata(): SnapshotMetadata {
    return this.#snapshot.metadata;
  }

  /** The data of the latest snapshot. */
  snapshotData(): Uint8Array {
    return this.#snapshot.data;
  }

  snapshotChunk(
    snapshotIndex: LogIndex,
    offsetBytes: number,
    sizeBytesMax: number,
  ): SnapshotData | undefined {
    if (snapshotIndex !== this.#snapshot.metadata.index) {
      return undefined;
    }
    const all = this.#snapshot.data;
    const end = Math.min(all.byteLength, offsetBytes + sizeBytesMax);
    return { data: all.subarray(offsetBytes, end), done: end >= all.byteLength };
  }

  /**
   * Appends entries from a Ready batch, replacing any suffix they conflict with.
   * Throws COFFER_RAFT_LOG_CORRUPT when they would leave a gap or go below the snapshot.
   */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) {
      return;
    }
    checkContiguous(entries);
    if (first.index <= this.#offset()) {
      throw corrupt(
        `Cannot append at index ${first.index}: it is covered by the snapshot at ${this.#offset()}`,
      );
    }
    if (first.index > this.lastIndex() + 1) {
      throw corrupt(`Cannot append at index ${first.index}: log ends at ${this.lastIndex()}`);
    }
    // The invariant holds across appends too: the kept entry before the batch bounds its term.
    const previousTerm = this.term(asIndex(first.index - 1)) ?? first.term;
    if (first.term < previousTerm) {
      throw corrupt(
        `Cannot append entry ${first.index} of term ${first.term}: it follows an entry of term ${previousTerm}`,
      );
    }
    const keep = first.index - this.#offset();
    for (let i = keep; i < this.#entries.length; i++) {
      this.#sizeBytes -= this.#entries[i]?.data.byteLength ?? 0;
    }
    this.#entries.length = keep;
    this.#entries.push(...entries);
    this.#sizeBytes += entriesSizeBytes(entries);
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(metadata: SnapshotMetadata, data: Uint8Array): void {
    if (metadata.index < this.#snapshot.metadata.index) {
      throw corrupt(
        `Cannot install snapshot at ${metadata.index}: a newer one at ${this.#snapshot.metadata.index} exists`,
      );
    }
    this.#snapshot = { metadata, data };
    this.#entries = [dummyEntry(metadata.index, metadata.term)];
    this.#sizeBytes = 0;
  }

  /**
   * Records a snapshot of the state machine at index (which must be in the log) and keeps the
   * log after it; entries up to it stay until {@link compact}.
   */
  createSnapshot(
    index: LogIndex,
    options: { confState: ConfState; data: Uint8Array },
  ): SnapshotMetadata {
    const term = this.term(index);
    if (index <= this.#snapshot.metadata.index || term === undefined) {
      throw new RaftError(
        RaftErrorCode.logUnavailable,
        `Cannot snapshot at index ${index}: log holds [${this.firstIndex()}, ${this.lastIndex()}] after snapshot ${this.#snapshot.metadata.index}`,
      );
    }
    const metadata = { index, term, confState: options.confState };
    this.#snapshot = { metadata, data: options.data };
    return metadata;
  }

  /** Discards entries up to and including index, which must not pass the snapshot. */
  compact(index: LogIndex): void {
    const offset = this.#offset();
    if (index <= offset) {
      return;
    }
    const term = this.term(index);
    if (term === undefined || index > this.#snapshot.metadata.index) {
      throw new RaftError(
        RaftErrorCode.logUnavailable,
        `Cannot compact to index ${index}: snapshot ends at ${this.#snapshot.metadata.index}`,
      );
    }
    const removed = this.#entries.slice(1, index - offset + 1);
    this.#sizeBytes -= entriesSizeBytes(removed);
    this.#entries = [dummyEntry(index, term), ...this.#entries.slice(index - offset + 1)];
  }

  /** Number of entries after the snapshot and their payload bytes. */
  usage(): { entryCount: number; sizeBytes: number } {
    return { entryCount: this.#entries.length - 1, sizeBytes: this.#sizeBytes };
  }

  logSizeBytes(): number {
    return this.#sizeBytes;
  }
}

function checkContiguous(entries: readonly Entry[]): void {
  for (let i = 1; i < entries.length; i++) {
    const prev = entries[i - 1];
    const next = entries[i];
    if (prev === undefined || next === undefined) {
      continue;
    }
    if (next.index !== prev.index + 1 || next.term < prev.term) {
      throw corrupt(
        `Cannot append entries: index ${next.index} (term ${next.term}) does not follow ${prev.index} (term ${prev.term})`,
      );
    }
  }
}
