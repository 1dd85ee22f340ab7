/**
 * The disk of one simulated node: what has been fsynced, and what has only been written. Writes
 * are records in one sequential file (like etcd's WAL): a received snapshot, a batch of entries,
 * a hard state. sync() makes every written record durable. A crash keeps the durable state and
 * loses the rest; in seeds that tear writes, a crash keeps a random prefix of the unsynced
 * records instead, the last one possibly cut short (a batch of entries keeps a prefix of itself).
 *
 * Snapshots the node takes of its own state machine are written and fsynced at once, together
 * with everything written before them, as a WAL snapshot record is.
 *
 * Invariant: durable entries have consecutive indexes starting at durableBase + 1.
 */
import {
  asIndex,
  asTerm,
  MemoryStorage,
  noNode,
  type ConfState,
  type Entry,
  type HardState,
  type LogIndex,
  type SnapshotMetadata,
} from '../../index.ts';
import type { SeededRandom } from '../seeded_random.ts';

/** One record written to the disk. */
export type DiskWrite =
  | { readonly kind: 'snapshot'; readonly metadata: SnapshotMetadata; readonly data: Uint8Array }
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | { readonly kind: 'hardState'; readonly hardState: HardState };

/** What survives on the disk. */
interface DurableState {
  snapshot: { metadata: SnapshotMetadata; data: Uint8Array };
  /** Entries after `base`, consecutive; base is at most the snapshot index. */
  entries: Entry[];
  base: number;
  hardState: HardState;
}

/** What a crash did to the disk, for the trace. */
export interface CrashReport {
  readonly unsyncedCount: number;
  readonly keptCount: number;
  readonly torn: boolean;
}

/** What a node restarts from: its log storage and its latest snapshot. */
export interface RecoveredState {
  readonly storage: MemoryStorage;
  readonly snapshotIndex: LogIndex;
  readonly snapshotData: Uint8Array;
}

function applyWrite(state: DurableState, write: DiskWrite): void {
  switch (write.kind) {
    case 'snapshot':
      state.snapshot = { metadata: write.metadata, data: write.data };
      state.entries = [];
      state.base = write.metadata.index;
      break;
    case 'entries': {
      const first = write.entries[0];
      if (first === undefined) {
        return;
      }
      const keep = first.index - 1 - state.base;
      if (keep < 0 || keep > state.entries.length) {
        throw new Error(
          `Disk write at index ${first.index} does not fit the log after ${state.base}`,
        );
      }
      state.entries.length = keep;
      state.entries.push(...write.entries);
      break;
    }
    case 'hardState':
      state.hardState = write.hardState;
      break;
  }
}

/** The parts of a log the checks compare: its bounds and its terms. */
export interface LogSummary {
  firstIndex(): number;
  lastIndex(): number;
  lastTerm(): number;
  /** The term at index, or undefined when the log does not hold it. */
  term(index: number): number | undefined;
}

/** The durable log of a node, as it would restart with it. */
class DurableLogSummary implements LogSummary {
  readonly #state: DurableState;

  constructor(state: DurableState) {
    this.#state = state;
  }

  firstIndex(): number {
    return this.#state.snapshot.metadata.index + 1;
  }

  lastIndex(): number {
    const d = this.#state;
    return Math.max(d.base + d.entries.length, d.snapshot.metadata.index);
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  term(index: number): number | undefined {
    const d = this.#state;
    const entry = d.entries[index - d.base - 1];
    if (entry !== undefined && index > d.snapshot.metadata.index) {
      return entry.term;
    }
    return index === d.snapshot.metadata.index ? d.snapshot.metadata.term : undefined;
  }
}

/** The durable and the written-but-unsynced state of one node. */
export class SimDisk {
  readonly #durable: DurableState;
  #unsynced: DiskWrite[] = [];

  /**
   * A disk holding the given log: a new node's disk is empty; a node of the initial cluster
   * holds the bootstrap entries (one membership change per founding voter) already committed.
   */
  constructor(options: { confState: ConfState; entries: readonly Entry[]; commit: LogIndex }) {
    const term = options.entries[options.entries.length - 1]?.term ?? asTerm(0);
    this.#durable = {
      snapshot: {
        metadata: { index: asIndex(0), term: asTerm(0), confState: options.confState },
        data: new Uint8Array(0),
      },
      entries: [...options.entries],
      base: 0,
      hardState: { term, vote: noNode, commit: options.commit },
    };
  }

  /** Records a write; it is lost in a crash unless synced first. */
  write(record: DiskWrite): void {
    this.#unsynced.push(record);
  }

  /** Makes every write so far durable (fsync). */
  sync(): void {
    for (const record of this.#unsynced) {
      applyWrite(this.#durable, record);
    }
    this.#unsynced = [];
  }

  /** The durable log: what the node would restart with if it crashed now. */
  durableLog(): LogSummary {
    return new DurableLogSummary(this.#durable);
  }

  /** The durable hard state: the term and vote the node would restart with. */
  durableHardState(): HardState {
    return this.#durable.hardState;
  }

  /** Writes unsynced so far. */
  unsyncedCount(): number {
    return this.#unsynced.length;
  }

  /**
   * Stores a snapshot of the node's own state machine durably (with everything written before
   * it) and drops the durable entries up to compactIndex.
   */
  saveLocalSnapshot(
    snapshot: { metadata: SnapshotMetadata; data: Uint8Array },
    compactIndex: LogIndex,
  ): void {
    this.sync();
    const d = this.#durable;
    d.snapshot = snapshot;
    const drop = Math.min(Math.max(0, compactIndex - d.base), d.entries.length);
    d.entries = d.entries.slice(drop);
    d.base += drop;
  }

  /**
   * Loses the unsynced writes. With tear set, a random prefix of them survives instead, and
   * the first write that does not survive whole may survive in part.
   */
  crash(random: SeededRandom, tear: boolean): CrashReport {
    const unsynced = this.#unsynced;
    this.#unsynced = [];
    if (!tear || unsynced.length === 0) {
      return { unsyncedCount: unsynced.length, keptCount: 0, torn: false };
    }
    const keptCount = random.int(unsynced.length + 1);
    for (const record of unsynced.slice(0, keptCount)) {
      applyWrite(this.#durable, record);
    }
    const next = unsynced[keptCount];
    let torn = false;
    if (next?.kind === 'entries' && next.entries.length > 1) {
      const prefix = next.entries.slice(0, 1 + random.int(next.entries.length - 1));
      applyWrite(this.#durable, { kind: 'entries', entries: prefix });
      torn = true;
    }
    return { unsyncedCount: unsynced.length, keptCount, torn };
  }

  /**
   * Rebuilds the log storage from the durable state, as a restarting process reads its files.
   * A snapshot holds only committed entries, so the commit restarts at least at its index.
   */
  recover(): RecoveredState {
    const d = this.#durable;
    const metadata = d.snapshot.metadata;
    const storage = new MemoryStorage(metadata.confState);
    if (metadata.index > 0) {
      storage.applySnapshot(metadata, d.snapshot.data);
    }
    const after = d.entries.filter((e) => e.index > metadata.index);
    storage.append(after);
    const commit = asIndex(Math.max(d.hardState.commit, metadata.index));
    storage.setHardState({ ...d.hardState, commit });
    return { storage, snapshotIndex: metadata.index, snapshotData: d.snapshot.data };
  }
}
