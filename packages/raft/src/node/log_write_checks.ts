/**
 * Checks every write against the log before anything reaches the disk (STYLE.md 5.8, "check
 * data twice": before the write here; after the read in each store's loader). A write that
 * would break the log's invariants throws the store's own error and nothing of it is written.
 * Shared by every DurableLog (LevelLogStore, MemoryDurableLog), so their rules cannot drift.
 */
import {
  asIndex,
  noNode,
  type Entry,
  type HardState,
  type LogIndex,
  type MemoryStorage,
  type SnapshotChunk,
  type SnapshotMetadata,
  type Term,
} from '../index.ts';
import type { PersistBatch } from './ports.ts';

/** What the store knows of the snapshot being received. */
export interface StagedSnapshot {
  readonly metadata: SnapshotMetadata;
  readonly sizeBytes: number;
  /** True once the chunk marked done was staged. */
  readonly done: boolean;
}

/** The write checks of a durable log, throwing the errors its owner chooses. */
export class LogWriteChecks {
  readonly #invalid: (message: string) => Error;

  /** invalid builds the error a refused write throws (for example COFFER_STORAGE_INVALID_WRITE). */
  constructor(invalid: (message: string) => Error) {
    this.#invalid = invalid;
  }

  /** Checks that a chunk starts a new staged snapshot (offset 0) or continues the staged one. */
  checkChunk(
    view: MemoryStorage,
    staging: StagedSnapshot | undefined,
    chunk: SnapshotChunk,
  ): 'start' | 'continue' {
    const { index, term } = chunk.metadata;
    if (index < view.snapshotMetadata().index) {
      throw this.#invalid(
        `Cannot stage a chunk of snapshot ${index}: a newer snapshot at ${view.snapshotMetadata().index} exists`,
      );
    }
    if (chunk.offsetBytes === 0) {
      return 'start';
    }
    const same = staging?.metadata.index === index && staging.metadata.term === term;
    if (staging === undefined || !same || staging.done || chunk.offsetBytes !== staging.sizeBytes) {
      const staged =
        staging === undefined
          ? 'nothing'
          : `${staging.sizeBytes} bytes of snapshot ${staging.metadata.index}`;
      throw this.#invalid(
        `Cannot stage snapshot ${index} at offset ${chunk.offsetBytes}: ${staged} is staged`,
      );
    }
    return 'continue';
  }

  /**
   * Checks a batch against the log before anything is written: a staged, complete snapshot to
   * install; entries that are contiguous, do not go back in term and attach to the log; a hard
   * state whose term and commit do not go back and whose vote does not change within a term.
   */
  checkPersist(
    view: MemoryStorage,
    staging: StagedSnapshot | undefined,
    batch: PersistBatch,
  ): void {
    let lastIndex = view.lastIndex();
    let snapshotIndex = view.snapshotMetadata().index;
    let termAt = (index: LogIndex): Term | undefined => view.term(index);
    const install = batch.installSnapshot;
    if (install !== undefined) {
      this.#checkInstall(view, staging, install);
      lastIndex = install.index;
      snapshotIndex = install.index;
      termAt = (index) => (index === install.index ? install.term : undefined);
    }
    const first = batch.entries[0];
    const last = batch.entries.at(-1);
    if (first !== undefined && last !== undefined) {
      this.#checkContiguous(batch.entries);
      if (first.index <= snapshotIndex || first.index > lastIndex + 1) {
        throw this.#invalid(
          `Cannot append entries at index ${first.index}: the log after snapshot ${snapshotIndex} ends at ${lastIndex}`,
        );
      }
      const previousTerm = termAt(asIndex(first.index - 1)) ?? 0;
      if (first.term < previousTerm) {
        throw this.#invalid(
          `Cannot append entry ${first.index} of term ${first.term}: entry ${first.index - 1} has term ${previousTerm}`,
        );
      }
      lastIndex = last.index;
    }
    if (batch.hardState !== undefined) {
      this.#checkHardState(view.hardState(), batch.hardState, lastIndex);
    }
  }

  #checkInstall(
    view: MemoryStorage,
    staging: StagedSnapshot | undefined,
    metadata: SnapshotMetadata,
  ): void {
    const current = view.snapshotMetadata().index;
    if (metadata.index < current) {
      throw this.#invalid(
        `Cannot install snapshot ${metadata.index}: a newer snapshot at ${current} exists`,
      );
    }
    const staged =
      staging?.done === true &&
      staging.metadata.index === metadata.index &&
      staging.metadata.term === metadata.term;
    if (!staged) {
      throw this.#invalid(
        `Cannot install snapshot ${metadata.index} of term ${metadata.term}: its chunks are not all staged`,
      );
    }
  }

  #checkContiguous(entries: readonly Entry[]): void {
    for (let i = 1; i < entries.length; i++) {
      const previous = entries[i - 1];
      const next = entries[i];
      if (previous === undefined || next === undefined) {
        continue;
      }
      if (next.index !== previous.index + 1 || next.term < previous.term) {
        throw this.#invalid(
          `Cannot append entries: index ${next.index} (term ${next.term}) does not follow ${previous.index} (term ${previous.term})`,
        );
      }
    }
  }

  #checkHardState(current: HardState, next: HardState, lastIndex: LogIndex): void {
    const voteChanged = current.vote !== noNode && next.vote !== current.vote;
    if (next.term < current.term || (next.term === current.term && voteChanged)) {
      throw this.#invalid(
        `Cannot write hard state of term ${next.term} with vote ${next.vote}: term ${current.term} with vote ${current.vote} is stored`,
      );
    }
    if (next.commit < current.commit || next.commit > lastIndex) {
      throw this.#invalid(
        `Cannot write commit index ${next.commit}: stored commit is ${current.commit} and the log ends at ${lastIndex}`,
      );
    }
  }

  /** Checks a snapshot to save: newer than the current one, inside the log, with its term. */
  checkSaveSnapshot(view: MemoryStorage, metadata: SnapshotMetadata, keepEntries: number): void {
    const current = view.snapshotMetadata().index;
    const term = view.term(metadata.index);
    if (metadata.index <= current || metadata.index > view.lastIndex() || term !== metadata.term) {
      throw this.#invalid(
        `Cannot save snapshot ${metadata.index} of term ${metadata.term}: the log after snapshot ${current} ends at ${view.lastIndex()} and has term ${term ?? 'none'} there`,
      );
    }
    if (!Number.isSafeInteger(keepEntries) || keepEntries < 0) {
      throw this.#invalid(
        `Cannot keep ${keepEntries} entries: keepEntries must be an integer >= 0`,
      );
    }
  }
}
