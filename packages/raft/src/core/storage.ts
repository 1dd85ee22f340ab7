/**
 * The log port the core reads (STYLE.md §2.2, §3.3). The consumer (this core) declares it; the
 * driver provides it. It is synchronous and in memory: the entries since the last snapshot.
 * The core never writes through it: writes leave the core in a Ready batch, and the driver
 * persists them and then updates the port.
 */
import type { ConfState, Entry, HardState, LogIndex, SnapshotMetadata, Term } from './types.ts';

/** What a node restarts from. */
export interface InitialState {
  readonly hardState: HardState;
  readonly confState: ConfState;
}

/** A slice of snapshot data read for one InstallSnapshot chunk. */
export interface SnapshotData {
  readonly data: Uint8Array;
  /** True when the slice reaches the end of the snapshot. */
  readonly done: boolean;
}

/** The in-memory log view the core reads. */
export interface LogStorage {
  /**
   * The hard state and membership last persisted (what the node restarts from). Drivers compare
   * a Ready's hard state with it to tell a term or vote change.
   */
  initialState(): InitialState;
  /**
   * Entries in [lo, hi), at least one, stopping before the payload passes sizeBytesMax.
   * Invariant: firstIndex() <= lo < hi <= lastIndex() + 1; the core asserts before calling.
   */
  entries(lo: LogIndex, hi: LogIndex, sizeBytesMax: number): readonly Entry[];
  /** The term of the entry at index, for firstIndex()-1 <= index <= lastIndex(); else undefined. */
  term(index: LogIndex): Term | undefined;
  /** The index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): LogIndex;
  /** The index of the last entry (the snapshot index when the log is empty). */
  lastIndex(): LogIndex;
  /** Payload bytes of the entries held after the snapshot (drives logSizeBytesMax). */
  logSizeBytes(): number;
  /** The metadata of the latest snapshot (index 0 when there is none). */
  snapshotMetadata(): SnapshotMetadata;
  /**
   * Reads part of the snapshot that ends at snapshotIndex, or undefined when that snapshot has
   * been replaced (the leader then starts over with the new one).
   */
  snapshotChunk(
    snapshotIndex: LogIndex,
    offsetBytes: number,
    sizeBytesMax: number,
  ): SnapshotData | undefined;
}
