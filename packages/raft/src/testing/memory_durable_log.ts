/**
 * An in-memory {@link DurableLog} over {@link MemoryStorage}, for tests, the simulator and the
 * conformance suite's reference run. It keeps the same contract as the LevelDB store in
 * @coffer/storage: every write is checked before anything changes, so a rejected batch leaves
 * the log as it was, and a failed or closed log refuses everything after.
 *
 * Durability is modelled with two images. {@link MemoryDurableLog.image} is everything
 * written: what a clean close or a process crash leaves (LevelDB hands unsynced writes to the
 * OS, which keeps them). {@link MemoryDurableLog.crashImage} is what the last synced write made
 * durable: what a power loss leaves. Reopen from either with {@link MemoryDurableLog.fromImage}.
 *
 * Invariant: the synced image is a prefix in time of the written one; a synced write (persist
 * with sync, saveSnapshot, stageSnapshotChunk) makes everything written before it durable too,
 * as one append-only write-ahead log does.
 */
import {
  asIndex,
  MemoryStorage,
  RaftError,
  RaftErrorCode,
  type ConfState,
  type Entry,
  type HardState,
  type InitialState,
  type LogIndex,
  type SnapshotChunk,
  type SnapshotData,
  type SnapshotMetadata,
  type Term,
} from '../index.ts';
import {
  collectSnapshotStream,
  LogWriteChecks,
  snapshotStreamOf,
  type DurableLog,
  type PersistBatch,
  type SaveSnapshotOutcome,
  type SnapshotStream,
  type SnapshotToSave,
} from '../node.ts';

/** A snapshot as the in-memory log keeps it: whole. */
export interface StoredSnapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/** Everything a {@link MemoryDurableLog} holds, as plain data to reopen from. */
export interface MemoryLogImage {
  readonly hardState: HardState;
  readonly snapshot: StoredSnapshot;
  /** The index and term just before the first entry: the snapshot's, or older when entries were kept. */
  readonly base: { readonly index: LogIndex; readonly term: Term };
  /** The entries after base, in order. */
  readonly entries: readonly Entry[];
}

/** Snapshot chunks received so far for one incoming snapshot. */
interface Staging {
  readonly metadata: SnapshotMetadata;
  readonly chunks: Uint8Array[];
  sizeBytes: number;
  done: boolean;
}

const emptyConfState: ConfState = { voters: [], learners: [] };

const checks = new LogWriteChecks((message) => new RaftError(RaftErrorCode.logCorrupt, message));

/** A durable log held in memory, with crash images for restart tests. */
export class MemoryDurableLog implements DurableLog {
  #view: MemoryStorage;
  #staging: Staging | undefined;
  #synced: MemoryLogImage;
  #closed = false;
  #failure: Error | undefined;
  #nextWriteFailure: Error | undefined;
  /** Synced writes so far, for tests of group commit. */
  syncCount = 0;

  /** A new, empty log for a node whose initial membership is confState. */
  constructor(confState: ConfState = emptyConfState) {
    this.#view = new MemoryStorage(confState);
    this.#synced = imageOf(this.#view);
  }

  /** Reopens a log from an image, as a node restarting after a close or a crash. */
  static fromImage(image: MemoryLogImage): MemoryDurableLog {
    const log = new MemoryDurableLog(image.snapshot.metadata.confState);
    log.#view = viewOf(image);
    log.#synced = image;
    return log;
  }

  /** Everything written so far: what a clean close or a process crash leaves. Works after close. */
  image(): MemoryLogImage {
    return imageOf(this.#view);
  }

  /** What the last synced write made durable: what a power loss leaves. Works after close. */
  crashImage(): MemoryLogImage {
    return this.#synced;
  }

  /**
   * Makes the next write reject with `error` and change nothing, as a failed fsync would; the
   * log then refuses everything (COFFER_RAFT_STOPPED), like the LevelDB store after a failure.
   */
  failNextWrite(error: Error): void {
    this.#nextWriteFailure = error;
  }

  initialState(): InitialState {
    return this.#readable().initialState();
  }

  entries(lo: LogIndex, hi: LogIndex, sizeBytesMax: number): readonly Entry[] {
    return this.#readable().entries(lo, hi, sizeBytesMax);
  }

  term(index: LogIndex): Term | undefined {
    return this.#readable().term(index);
  }

  firstIndex(): LogIndex {
    return this.#readable().firstIndex();
  }

  lastIndex(): LogIndex {
    return this.#readable().lastIndex();
  }

  logSizeBytes(): number {
    return this.#readable().logSizeBytes();
  }

  snapshotMetadata(): SnapshotMetadata {
    return this.#readable().snapshotMetadata();
  }

  snapshotChunk(
    snapshotIndex: LogIndex,
    offsetBytes: number,
    sizeBytesMax: number,
  ): SnapshotData | undefined {
    return this.#readable().snapshotChunk(snapshotIndex, offsetBytes, sizeBytesMax);
  }

  snapshotData(): SnapshotStream {
    return snapshotStreamOf(this.#readable().snapshotData());
  }

  stageSnapshotChunk(chunk: SnapshotChunk): Promise<void> {
    return settle(() => {
      const step = checks.checkChunk(this.#writable(), this.#staging, chunk);
      const staging: Staging =
        step === 'start' || this.#staging === undefined
          ? { metadata: chunk.metadata, chunks: [], sizeBytes: 0, done: false }
          : this.#staging;
      staging.chunks.push(chunk.data);
      staging.sizeBytes += chunk.data.byteLength;
      staging.done = chunk.done;
      this.#staging = staging;
      this.#synced = imageOf(this.#view);
    });
  }

  persist(batch: PersistBatch, options: { sync: boolean }): Promise<void> {
    return settle(() => {
      const view = this.#writable();
      checks.checkPersist(view, this.#staging, batch);
      if (batch.installSnapshot !== undefined) {
        view.applySnapshot(batch.installSnapshot, concat(this.#staging?.chunks ?? []));
        this.#staging = undefined;
      }
      view.append(batch.entries);
      if (batch.hardState !== undefined) {
        view.setHardState(batch.hardState);
      }
      if (options.sync) {
        this.syncCount++;
        this.#synced = imageOf(view);
      }
    });
  }

  async saveSnapshot(
    snapshot: SnapshotToSave,
    options: { keepEntries: number },
  ): Promise<SaveSnapshotOutcome> {
    this.#readable();
    const data = await collectSnapshotStream(snapshot.chunks);
    return settle(() => {
      const view = this.#writable();
      const { index, confState } = snapshot.metadata;
      if (index <= view.snapshotMetadata().index) {
        return 'superseded';
      }
      checks.checkSaveSnapshot(view, snapshot.metadata, options.keepEntries);
      view.createSnapshot(index, { confState, data });
      view.compact(asIndex(Math.max(view.firstIndex() - 1, index - options.keepEntries)));
      this.#synced = imageOf(view);
      return 'saved';
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#staging = undefined;
    return Promise.resolve();
  }

  #readable(): MemoryStorage {
    if (this.#closed) {
      throw new RaftError(RaftErrorCode.stopped, 'Cannot use the log: it is closed');
    }
    if (this.#failure !== undefined) {
      throw new RaftError(
        RaftErrorCode.stopped,
        'Cannot use the log: a write failed earlier; restart the node',
        { cause: this.#failure },
      );
    }
    return this.#view;
  }

  #writable(): MemoryStorage {
    const view = this.#readable();
    const failure = this.#nextWriteFailure;
    if (failure !== undefined) {
      this.#nextWriteFailure = undefined;
      this.#failure = failure;
      throw failure;
    }
    return view;
  }
}

/** Runs a synchronous step as a settled promise, so callers see one async contract. */
function settle<T>(step: () => T): Promise<T> {
  try {
    return Promise.resolve(step());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

function imageOf(view: MemoryStorage): MemoryLogImage {
  const first = view.firstIndex();
  const last = view.lastIndex();
  const baseIndex = asIndex(first - 1);
  return {
    hardState: view.hardState(),
    snapshot: { metadata: view.snapshotMetadata(), data: view.snapshotData() },
    base: { index: baseIndex, term: view.term(baseIndex) ?? view.snapshotMetadata().term },
    entries: last >= first ? view.entries(first, asIndex(last + 1), Infinity) : [],
  };
}

function viewOf(image: MemoryLogImage): MemoryStorage {
  const { metadata, data } = image.snapshot;
  const view = new MemoryStorage(metadata.confState);
  if (image.base.index === metadata.index) {
    view.applySnapshot(metadata, data);
    view.append(image.entries);
  } else {
    view.applySnapshot({ ...image.base, confState: metadata.confState }, new Uint8Array(0));
    view.append(image.entries);
    view.createSnapshot(metadata.index, { confState: metadata.confState, data });
  }
  view.setHardState(image.hardState);
  return view;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
