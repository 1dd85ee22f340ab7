/**
 * The ports the Raft driver needs (STYLE.md §2.2: the consumer declares, the provider
 * implements). storage implements {@link DurableLog} on LevelDB; the in-memory versions in
 * @coffer/raft/testing implement them for tests; the cluster issue adds a network Transport.
 */
import type {
  Entry,
  HardState,
  LogIndex,
  LogStorage,
  Message,
  SnapshotChunk,
  SnapshotMetadata,
} from '../index.ts';

/** A snapshot with its data, as saved or installed. */
export interface SnapshotWithData {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/** The durable part of one Ready, written as one atomic batch. */
export interface PersistBatch {
  readonly hardState: HardState | undefined;
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader: install the staged chunks as the new log base. */
  readonly installSnapshot: SnapshotMetadata | undefined;
}

/**
 * The Raft log on durable storage. Reads are synchronous through the {@link LogStorage} view
 * the core uses (entries since the last snapshot are held in memory); writes are batches.
 *
 * Invariant: when persist() resolves with sync, the batch survives a crash, and the in-memory
 * view already reflects it. A failed write rejects with a typed error and the node must stop:
 * it never acknowledges what it could not persist.
 */
export interface DurableLog extends LogStorage {
  /** Stages one received snapshot chunk (offset 0 discards anything staged before). */
  stageSnapshotChunk(chunk: SnapshotChunk): Promise<void>;
  /** Writes hard state and entries (replacing a conflicting suffix), or installs the staged snapshot. */
  persist(batch: PersistBatch, options: { sync: boolean }): Promise<void>;
  /** Saves a snapshot of applied state and discards log entries up to index - keepEntries. */
  saveSnapshot(snapshot: SnapshotWithData, options: { keepEntries: number }): Promise<void>;
  /** The data of the latest snapshot, to restore the state machine from at start. */
  snapshotData(): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** The replicated application. Applying is deterministic: same entries, same state. */
export interface StateMachine {
  /** The last index applied (durably, when the machine is durable). */
  appliedIndex(): LogIndex;
  /** Applies committed entries in order; returns one result per entry. */
  apply(entries: readonly Entry[]): Promise<readonly Uint8Array[]>;
  /** A snapshot of the state at appliedIndex(). */
  snapshot(): Promise<Uint8Array>;
  /** Replaces the state with a snapshot's data. */
  restore(metadata: SnapshotMetadata, data: Uint8Array): Promise<void>;
}

/** Carries messages between nodes. Sends are fire-and-forget; Raft retries what is lost. */
export interface Transport {
  send(messages: readonly Message[]): void;
  /** Registers the handler for messages that arrive for this node. */
  listen(handler: (message: Message) => void): void;
  close(): Promise<void>;
}

/** Time for the driver: a monotonic clock and a timer, faked in tests. */
export interface DriverClock {
  nowMs(): number;
  setTimer(delayMs: number, callback: () => void): { cancel(): void };
}
