/**
 * Applying committed entries, as a pure function of the state and the entries: decode each
 * command, check its conditions, and fold its writes into an overlay over the stored state.
 * The store then writes the overlay and the new state record as one LevelDB batch.
 *
 * Nothing here reads a clock, draws a random number or depends on the batch split: a key's
 * version is the index of the entry that wrote it, conditions see every earlier entry of the
 * same batch through the overlay, and a refused or malformed entry changes nothing. So two
 * replicas that apply the same entries, however batched, hold the same state.
 *
 * Invariant: entries are applied in index order without gaps; an entry at or below the applied
 * index is skipped (a replay after a crash), so applying is idempotent.
 */
import type { LogIndex, Term } from '@coffer/raft';

import { StorageError, StorageErrorCode } from '../errors.ts';
import { ApplyOutcome, casFailed, malformed, type ApplyResult } from './apply_result.ts';
import {
  SessionTable,
  type RawReader,
  type RawWrite,
  type SessionLimits,
} from './session_apply.ts';
import { decodeEntryData, type DecodedEntryData } from './session_envelope.ts';
import type { StateCommand, StateCondition, StateOperation } from './state_command.ts';
import { dataKeyOf } from './state_keys.ts';
import type { StateMeta, StoredValue } from './state_record.ts';

/** A committed Raft entry to apply: its index and term, and the command as data. */
export interface StateEntry {
  readonly index: LogIndex;
  readonly term: Term;
  /**
   * An encoded state command or session envelope (session_envelope.ts); empty for an entry
   * with nothing to apply.
   */
  readonly data: Uint8Array;
  /**
   * `decodeEntryData(data)`, when the caller decoded it already (the state machine checks every
   * entry before a batch applies): it is not decoded again.
   */
  readonly decoded?: DecodedEntryData | undefined;
}

/** One key the batch touched: its LevelDB key and what the batch knows of its value. */
export interface TouchedKey {
  /** The key as the command named it. */
  readonly key: string;
  readonly dbKey: Uint8Array;
  /** The value after the batch so far; undefined: absent or deleted. */
  current: StoredValue | undefined;
  /** Whether current was read or written (else the key was only written blind, by a delete). */
  known: boolean;
  /** Whether the batch wrote it (else it was only read, for a condition). */
  written: boolean;
}

/** What a batch does: one result per entry, and the writes with the new state record. */
export interface ApplyPlan {
  readonly results: readonly ApplyResult[];
  /** Keys written by the batch, each with its final value (undefined: deleted). */
  readonly writes: readonly TouchedKey[];
  /** Session records (and the session meta record) the batch wrote, sealed. */
  readonly sessionWrites: readonly RawWrite[];
  /** The state record after the batch; undefined when every entry was skipped. */
  readonly meta: StateMeta | undefined;
}

/**
 * Reads a stored value by LevelDB key, checking it (a corrupt record throws); key is the user
 * key those bytes encode.
 */
export type StoredValueReader = (dbKey: Uint8Array, key: string) => StoredValue | undefined;

/**
 * The state of one batch being planned. Writes are blind: a put or delete never reads the
 * stored value (a LevelDB miss costs more than the rest of the apply); only a condition does.
 */
class Overlay {
  readonly #read: StoredValueReader;
  readonly #keys = new Map<string, TouchedKey>();

  constructor(read: StoredValueReader) {
    this.#read = read;
  }

  /** The key's value as the batch sees it, reading it from the store if the batch has not. */
  read(key: string): StoredValue | undefined {
    const touched = this.#touch(key);
    if (!touched.known) {
      touched.current = this.#read(touched.dbKey, key);
      touched.known = true;
    }
    return touched.current;
  }

  put(key: string, version: number, value: Uint8Array): void {
    const touched = this.#touch(key);
    touched.current = { version, value };
    touched.known = true;
    touched.written = true;
  }

  delete(key: string): void {
    const touched = this.#touch(key);
    touched.current = undefined;
    touched.known = true;
    touched.written = true;
  }

  writes(): TouchedKey[] {
    return [...this.#keys.values()].filter((touched) => touched.written);
  }

  #touch(key: string): TouchedKey {
    let touched = this.#keys.get(key);
    if (touched === undefined) {
      touched = { key, dbKey: dataKeyOf(key), current: undefined, known: false, written: false };
      this.#keys.set(key, touched);
    }
    return touched;
  }
}

/** The position of the first condition that fails, with the key's version then. */
function failedCondition(
  overlay: Overlay,
  conditions: readonly StateCondition[],
): { position: number; key: string; actual: number | undefined } | undefined {
  for (const [position, condition] of conditions.entries()) {
    const actual = overlay.read(condition.key)?.version;
    const holds = condition.kind === 'absent' ? actual === undefined : actual === condition.version;
    if (!holds) {
      return { position, key: condition.key, actual };
    }
  }
  return undefined;
}

function applyOperation(overlay: Overlay, operation: StateOperation, index: number): void {
  if (operation.kind === 'put') {
    overlay.put(operation.key, index, operation.value);
  } else {
    overlay.delete(operation.key);
  }
}

function applyCommand(overlay: Overlay, command: StateCommand, index: number): ApplyResult {
  if (command.kind !== 'transaction') {
    applyOperation(overlay, command, index);
    return { ok: true, outcome: ApplyOutcome.applied };
  }
  const failed = failedCondition(overlay, command.conditions);
  if (failed !== undefined) {
    return casFailed(failed.position, failed.key, failed.actual);
  }
  for (const operation of command.operations) {
    applyOperation(overlay, operation, index);
  }
  return { ok: true, outcome: ApplyOutcome.applied };
}

function invalidEntry(location: string, problem: string): StorageError {
  return new StorageError(
    StorageErrorCode.invalidWrite,
    `Cannot apply entries to the state in "${location}": ${problem}; nothing was applied. A driver bug: report it`,
  );
}

/** Checks that entry continues the applied log: the next index, a term that does not go back. */
function checkNext(
  location: string,
  last: { index: number; term: number },
  entry: StateEntry,
): void {
  if (entry.index !== last.index + 1) {
    throw invalidEntry(
      location,
      `entry ${entry.index} does not follow applied index ${last.index}`,
    );
  }
  if (!Number.isSafeInteger(entry.term) || entry.term < last.term) {
    throw invalidEntry(location, `entry ${entry.index} has term ${entry.term}, below ${last.term}`);
  }
}

function applyDecoded(
  state: { overlay: Overlay; sessions: SessionTable },
  decoded: DecodedEntryData,
  index: number,
): ApplyResult {
  if (!decoded.ok) {
    return malformed(decoded.reason);
  }
  switch (decoded.kind) {
    case 'command':
      return applyCommand(state.overlay, decoded.command, index);
    case 'register':
      return state.sessions.register(index, decoded.stampMs);
    case 'request':
      return state.sessions.request(decoded.request, (command) =>
        applyCommand(state.overlay, command, index),
      );
  }
}

/** What {@link planApply} reads the stored state through. */
export interface PlanOptions {
  /** Reads a user value, checked. */
  readonly read: StoredValueReader;
  /** Reads a session record's raw bytes. */
  readonly readRaw: RawReader;
  readonly sessionLimits: SessionLimits;
  readonly location: string;
}

/**
 * Plans applying entries to the state described by meta, reading stored values through read.
 * Throws COFFER_STORAGE_INVALID_WRITE, before anything is written, when the entries skip an
 * index or go back in term.
 */
export function planApply(
  entries: readonly StateEntry[],
  meta: StateMeta,
  options: PlanOptions,
): ApplyPlan {
  const overlay = new Overlay(options.read);
  const sessions = new SessionTable(options.readRaw, {
    location: options.location,
    limits: options.sessionLimits,
  });
  const results: ApplyResult[] = [];
  let last = { index: meta.appliedIndex, term: meta.appliedTerm };
  for (const entry of entries) {
    // Only a prefix of the batch may be a replay: an old entry after a new one is a driver bug.
    if (entry.index <= meta.appliedIndex && last.index === meta.appliedIndex) {
      results.push({ ok: true, outcome: ApplyOutcome.skipped });
      continue;
    }
    checkNext(options.location, last, entry);
    last = { index: entry.index, term: entry.term };
    if (entry.data.byteLength === 0) {
      results.push({ ok: true, outcome: ApplyOutcome.empty });
      continue;
    }
    const decoded = entry.decoded ?? decodeEntryData(entry.data);
    results.push(applyDecoded({ overlay, sessions }, decoded, entry.index));
  }
  const applied = last.index !== meta.appliedIndex;
  const next = { appliedIndex: last.index, appliedTerm: last.term };
  return {
    results,
    writes: overlay.writes(),
    sessionWrites: sessions.writes(),
    meta: applied ? next : undefined,
  };
}
