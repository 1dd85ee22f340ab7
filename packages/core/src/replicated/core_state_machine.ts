/**
 * CoreStateMachine: the Raft state machine of a Coffer node. Committed entries carry state
 * commands (storage's StateCommand) whose values were encrypted by the barrier before they were
 * proposed, so the Raft log, the LevelDB state and every snapshot hold ciphertext only.
 *
 * An entry this node cannot read (an unknown command or envelope: written by a newer Coffer, or
 * damaged) stops the node before anything of its batch applies (COFFER_CORE_UNKNOWN_ENTRY):
 * applying it as a no-op would be a guess, and a replica that guesses differs from one that
 * knows. Its peers that can read it go on; this node serves again once upgraded.
 *
 * Applying is a pure function of the state and the entry (LevelStateStore): one LevelDB batch
 * per Ready, with the applied index in the same batch. The batch is not fsynced: the Raft log
 * is the durable record, replay is idempotent, and the log is compacted only behind a snapshot
 * that the log store itself holds (synced), which a restart restores from when the state lags.
 *
 * The keyring is replicated state too: a keyring change is a check-and-set write of the sealed
 * keyring at keyringPath, and when one applies, every unsealed replica adopts it in the same
 * log order. Snapshots are authenticated with an HMAC key derived from the keyring's stable
 * identifier key, which every member holds whatever keyring generation it is at.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';

import { EntryType, type Entry, type LogIndex, type SnapshotMetadata } from '@coffer/raft';
import type { SnapshotSource, SnapshotStream, StateMachine } from '@coffer/raft/node';
import {
  decodeEntryData,
  encodeApplyResult,
  type DecodedEntryData,
  type LevelStateStore,
  type StateCommand,
  type StateEntry,
} from '@coffer/storage';

import type { Barrier } from '../barrier/barrier.ts';
import { KeyPurpose } from '../barrier/key_derivation.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import { keyringPath } from './system_paths.ts';

const empty = new Uint8Array(0);

/** The command a decoded entry carries, plain or inside a session request. */
function commandOf(decoded: DecodedEntryData): StateCommand | undefined {
  if (!decoded.ok || decoded.kind === 'register') {
    return undefined;
  }
  return decoded.kind === 'command' ? decoded.command : decoded.request.command;
}

/**
 * Each entry with its data decoded once (for the store, and for what follows an applied
 * command). Throws COFFER_CORE_UNKNOWN_ENTRY for the first entry whose data this node cannot
 * decode, so the Raft driver stops before the batch applies.
 */
function decodeReadable(entries: readonly Entry[]): StateEntry[] {
  return entries.map((entry) => {
    if (entry.type !== EntryType.normal || entry.data.byteLength === 0) {
      return { index: entry.index, term: entry.term, data: empty };
    }
    const decoded = decodeEntryData(entry.data);
    if (!decoded.ok) {
      throw new CoreError(
        CoreErrorCode.unknownEntry,
        `Upgrade this node (or restore it from a snapshot): the entry at index ${entry.index} is one it cannot read (${decoded.reason}), so it stopped rather than guess`,
      );
    }
    return { index: entry.index, term: entry.term, data: entry.data, decoded };
  });
}

/** The sealed keyring a command writes, if it writes one. */
function keyringWritten(command: StateCommand): Uint8Array | undefined {
  const operations = command.kind === 'transaction' ? command.operations : [command];
  let written: Uint8Array | undefined;
  for (const operation of operations) {
    if (operation.kind === 'put' && operation.key === keyringPath) {
      written = operation.value;
    }
  }
  return written;
}

/** What a {@link CoreStateMachine} may be given besides its store and barrier. */
export interface CoreStateMachineOptions {
  /**
   * The snapshot key a join granted, so a node that joined takes in the state (and may snapshot
   * it) while still sealed; once unsealed, the barrier derives the same key.
   */
  readonly joinSnapshotKey?: Uint8Array | undefined;
  /** Told of each command that applied (not a retried request's repeat), in log order. */
  readonly onApplied?: ((command: StateCommand) => void) | undefined;
}

/** The replicated state of one node: LevelStateStore under the Raft driver, keyed by the barrier. */
export class CoreStateMachine implements StateMachine {
  readonly #store: LevelStateStore;
  readonly #barrier: Barrier;

  readonly #joinSnapshotKey: Uint8Array | undefined;
  readonly #onApplied: ((command: StateCommand) => void) | undefined;

  constructor(store: LevelStateStore, barrier: Barrier, options: CoreStateMachineOptions = {}) {
    this.#store = store;
    this.#barrier = barrier;
    this.#joinSnapshotKey = options.joinSnapshotKey;
    this.#onApplied = options.onApplied;
  }

  appliedIndex(): LogIndex {
    return this.#store.appliedIndex();
  }

  async apply(entries: readonly Entry[]): Promise<readonly Uint8Array[]> {
    const decoded = decodeReadable(entries);
    const results = await this.#store.apply(decoded, { sync: false });
    for (const [i, result] of results.entries()) {
      const entry = decoded[i];
      // NB: a repeated result is a retried request answered from its session: the command
      // applied at an earlier entry, and was observed then.
      if (
        entry?.decoded !== undefined &&
        result.ok &&
        result.outcome === 'applied' &&
        !result.repeated
      ) {
        this.#observe(entry.decoded);
      }
    }
    return results.map(encodeApplyResult);
  }

  async snapshot(metadata: SnapshotMetadata): Promise<SnapshotSource> {
    const snapshot = await this.#store.snapshot({
      key: this.#snapshotKey(),
      membership: new TextEncoder().encode(JSON.stringify(metadata.confState)),
      keyringTerm: this.#barrier.isSealed ? 0 : this.#barrier.keyringStatus().term,
    });
    if (snapshot.index !== metadata.index || snapshot.term !== metadata.term) {
      await snapshot.close();
      throw new CoreError(
        CoreErrorCode.snapshotMismatch,
        `Cannot snapshot the state for Raft snapshot ${metadata.index} (term ${metadata.term}): the state is at ${snapshot.index} (term ${snapshot.term}). A driver bug: report it`,
      );
    }
    return { chunks: snapshot.chunks, close: () => snapshot.close() };
  }

  async restore(_metadata: SnapshotMetadata, chunks: SnapshotStream): Promise<void> {
    await this.#store.restore(chunks, { key: this.#snapshotKey() });
    const keyring = this.#store.get(keyringPath);
    if (keyring !== undefined && !this.#barrier.isSealed) {
      this.#barrier.adoptKeyring(keyring.value);
    }
  }

  /**
   * A command that applied: a keyring change, which every unsealed replica follows in log
   * order; and onApplied.
   */
  #observe(decoded: DecodedEntryData): void {
    const command = commandOf(decoded);
    if (command !== undefined) {
      this.#onApplied?.(command);
    }
    if (this.#barrier.isSealed) {
      return;
    }
    const keyring = command === undefined ? undefined : keyringWritten(command);
    if (keyring !== undefined) {
      this.#barrier.applyKeyringChange(keyring);
    }
  }

  #snapshotKey(): KeyObject {
    if (this.#barrier.isSealed && this.#joinSnapshotKey !== undefined) {
      return createSecretKey(this.#joinSnapshotKey);
    }
    const key = this.#barrier.deriveStableKey(KeyPurpose.snapshotHmac);
    try {
      return createSecretKey(key.reveal());
    } finally {
      key.zero();
    }
  }
}
