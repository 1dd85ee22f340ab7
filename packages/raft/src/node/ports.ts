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

/**
 * A snapshot's bytes as chunks, read in order and once. Snapshots stream end to end (state
 * machine → log store → followers, and back), so memory stays bounded whatever the state size.
 */
export type SnapshotStream = AsyncIterable<Uint8Array>;

/** A snapshot of applied state to save in the log, with its bytes as a stream. */
export interface SnapshotToSave {
  readonly metadata: SnapshotMetadata;
  readonly chunks: SnapshotStream;
}

/** What a state machine's snapshot pins until it is read to the end or closed. */
export interface SnapshotSource {
  readonly chunks: SnapshotStream;
  /** Releases what the snapshot pins when its chunks will not be read to the end. */
  close(): Promise<void>;
}

/** How a saveSnapshot() ended: saved, or dropped because a newer snapshot replaced it meanwhile. */
export type SaveSnapshotOutcome = 'saved' | 'superseded';

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
  /**
   * Saves a snapshot of applied state and discards log entries up to index - keepEntries. The
   * chunks are written as they come, alongside other writes (a large snapshot does not stall
   * the log); the switch to the new snapshot is one atomic write at the end. A snapshot whose
   * index a newer one (installed from the leader meanwhile) already covers is dropped.
   */
  saveSnapshot(
    snapshot: SnapshotToSave,
    options: { keepEntries: number },
  ): Promise<SaveSnapshotOutcome>;
  /** The bytes of the current snapshot, to restore the state machine from. */
  snapshotData(): SnapshotStream;
  close(): Promise<void>;
}

/** The replicated application. Applying is deterministic: same entries, same state. */
export interface StateMachine {
  /** The last index applied (durably, when the machine is durable). */
  appliedIndex(): LogIndex;
  /** Applies committed entries in order; returns one result per entry. */
  apply(entries: readonly Entry[]): Promise<readonly Uint8Array[]>;
  /**
   * Pins the state at appliedIndex() as of this call (a later apply() must not show through)
   * and returns it to stream. metadata describes that point: index, term and membership.
   */
  snapshot(metadata: SnapshotMetadata): Promise<SnapshotSource>;
  /** Replaces the state with a snapshot's bytes, verified before anything is replaced. */
  restore(metadata: SnapshotMetadata, chunks: SnapshotStream): Promise<void>;
}

/** Carries messages between nodes. Sends are fire-and-forget; Raft retries what is lost. */
export interface Transport {
  send(messages: readonly Message[]): void;
  /** Registers the handler for messages that arrive for this node. */
  listen(handler: (message: Message) => void): void;
  /**
   * Registers the handler told when an established connection to a peer broke (its process
   * died or the link went down), so a follower of that peer need not wait out a whole election
   * timeout (RawNode.reportPeerLost). Optional: a transport that cannot tell leaves it out.
   */
  onPeerLost?(handler: (peerId: number) => void): void;
  close(): Promise<void>;
}

/** Time for the driver: a monotonic clock and a timer, faked in tests. */
export interface DriverClock {
  nowMs(): number;
  setTimer(delayMs: number, callback: () => void): { cancel(): void };
}
