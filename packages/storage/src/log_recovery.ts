/**
 * Offline recovery of a Raft log whose cluster lost quorum for good (`coffer operator raft
 * recover`, docs/design/cluster.md §7): forces the membership a node restarts with, in the
 * node's stopped log directory. Unsafe by nature, like Vault's peers.json: see the design.
 *
 * What it writes, in ONE synced LevelDB batch (so a crash leaves the old log or the new one,
 * never a mix):
 *   - the log-state record, with the snapshot's membership replaced by the forced one;
 *   - every entry run that holds a membership change, rewritten with each such entry turned
 *     into an empty normal entry (a no-op) of the same index and term, so that neither the
 *     restart replay (up to the applied index) nor a later apply (of the tail) changes the
 *     forced membership again;
 *   - the hard state, with the term raised by one and the vote cleared, so that any message
 *     of the lost configuration's last term is stale to the recovered node.
 * Nothing else changes: the entries, their terms and the commit index stay, so a recovered node
 * that wins an election commits its whole log (Raft §5.4.2, as any new leader does).
 *
 * Invariant: the log is loaded and verified in full before anything is written, and loaded and
 * checked again after the write (STYLE.md 5.8); a plan that throws writes nothing.
 */
import assert from 'node:assert/strict';

import {
  applyToConfState,
  asIndex,
  asNodeId,
  asTerm,
  decodeConfChange,
  EntryType,
  noNode,
  type ConfState,
  type Entry,
  type HardState,
  type MemoryStorage,
} from '@coffer/raft';
import { decodeEntries, encodeEntries } from '@coffer/raft/node';

import { StorageError, StorageErrorCode } from './errors.ts';
import {
  classifyLevelError,
  LevelFailure,
  openLevelDatabase,
  type LevelDatabase,
  type LevelOperation,
} from './level_adapter.ts';
import { loadLog } from './level_log_loader.ts';
import {
  corruptRecord,
  decodeLogState,
  decodeRecord,
  encodeHardState,
  encodeLogState,
  encodeRecord,
  hardStateKey,
  logStateKey,
  runRange,
} from './log_record.ts';

/** What the log holds before a recovery: the plan is made from it. */
export interface LogMembership {
  /** The membership at the log's end (the snapshot's, with every change in the log applied). */
  readonly confState: ConfState;
  readonly hardState: HardState;
  readonly lastIndex: number;
}

/** What a recovery did (or, on a dry run, would do). */
export interface LogRecoveryReport {
  readonly before: LogMembership;
  readonly confState: ConfState;
  /** The hard state written: the term raised by one, no vote, the same commit. */
  readonly hardState: HardState;
  /** How many membership-change entries became no-ops. */
  readonly neutralizedCount: number;
  /** True when nothing was written (dryRun). */
  readonly dryRun: boolean;
}

/** Options for {@link recoverLogMembership}. */
export interface LogRecoveryOptions {
  /**
   * Returns the membership to force, given what the log holds; throwing aborts the recovery
   * with nothing written (the caller validates its peers file here).
   */
  readonly plan: (current: LogMembership) => ConfState;
  /** Validate and report only; write nothing. */
  readonly dryRun?: boolean;
}

/** The membership at the end of the loaded log: the stored one with every change replayed. */
function membershipAtEnd(view: MemoryStorage): ConfState {
  let conf = view.snapshotMetadata().confState;
  const last = view.lastIndex();
  for (let lo = view.firstIndex(); lo <= last;) {
    const page = view.entries(lo, asIndex(last + 1), Number.MAX_SAFE_INTEGER);
    for (const entry of page) {
      const change = entry.type === EntryType.confChange ? decodeConfChange(entry.data) : undefined;
      conf = change === undefined ? conf : applyToConfState(conf, change);
    }
    const end = page.at(-1);
    assert(end !== undefined, 'the view holds every entry up to its last index');
    lo = asIndex(end.index + 1);
  }
  return conf;
}

function neutralized(entry: Entry): Entry {
  return entry.type === EntryType.confChange
    ? { term: entry.term, index: entry.index, type: EntryType.normal, data: new Uint8Array(0) }
    : entry;
}

/** The run rewrites that turn every membership change on disk into a no-op, and their count. */
async function neutralizeRuns(
  db: LevelDatabase,
): Promise<{ operations: LevelOperation[]; count: number }> {
  const operations: LevelOperation[] = [];
  let count = 0;
  for await (const record of db.scan(runRange)) {
    const decoded = decodeRecord(record, db.location, (body) => decodeEntries(body));
    // NB: loadLog verified every run just before; a failure here is a disk changing under us.
    if (!decoded.ok) {
      throw corruptRecord(
        record.key,
        db.location,
        `its entries do not decode (${decoded.message})`,
      );
    }
    const changes = decoded.value.filter((e) => e.type === EntryType.confChange).length;
    if (changes > 0) {
      const body = encodeEntries(decoded.value.map(neutralized));
      operations.push({ type: 'put', key: record.key, value: encodeRecord(record.key, body) });
      count += changes;
    }
  }
  return { operations, count };
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

/** Loads and verifies the log; refuses a directory that holds none. */
async function loadExisting(db: LevelDatabase): Promise<{ view: MemoryStorage }> {
  const loaded = await loadLog(db);
  if (loaded === undefined) {
    throw new StorageError(
      StorageErrorCode.invalidWrite,
      `Cannot recover the Raft log in "${db.location}": it holds no log. Point at the data directory of a node that was initialized or joined`,
    );
  }
  return loaded;
}

async function openForRecovery(location: string): Promise<LevelDatabase> {
  try {
    return await openLevelDatabase(location);
  } catch (error) {
    if (classifyLevelError(error) === LevelFailure.locked) {
      throw new StorageError(
        StorageErrorCode.locked,
        `Cannot recover the Raft log in "${location}": a running process holds its lock. Stop the node first`,
        { cause: error },
      );
    }
    throw new StorageError(
      StorageErrorCode.io,
      `Cannot recover the Raft log in "${location}": LevelDB failed to open it`,
      { cause: error },
    );
  }
}

/** Writes the recovery's one synced batch; a failure wrote all of it or nothing. */
async function writeBatch(db: LevelDatabase, operations: readonly LevelOperation[]): Promise<void> {
  try {
    await db.write(operations, { sync: true });
  } catch (error) {
    throw new StorageError(
      classifyLevelError(error) === LevelFailure.diskFull
        ? StorageErrorCode.diskFull
        : StorageErrorCode.writeFailed,
      `Cannot write the recovered Raft log in "${db.location}": the batch or its fsync failed (one batch: all of it or none was written). Fix the disk, then run recover again`,
      { cause: error },
    );
  }
}

function sortedConf(conf: ConfState): ConfState {
  const ids = (list: readonly number[]) => [...list].sort((a, b) => a - b).map(asNodeId);
  return { voters: ids(conf.voters), learners: ids(conf.learners) };
}

/**
 * Forces the membership of the stopped log in directory `location` (see the file comment).
 * Throws COFFER_STORAGE_LOCKED when a process holds the directory, COFFER_STORAGE_INVALID_WRITE
 * when it holds no log, COFFER_STORAGE_CORRUPT_RECORD when the log fails verification, and
 * whatever `options.plan` throws; in each case nothing was written.
 */
export async function recoverLogMembership(
  location: string,
  options: LogRecoveryOptions,
): Promise<LogRecoveryReport> {
  const db = await openForRecovery(location);
  try {
    const { view } = await loadExisting(db);
    const before: LogMembership = {
      confState: membershipAtEnd(view),
      hardState: view.hardState(),
      lastIndex: view.lastIndex(),
    };
    const confState = sortedConf(options.plan(before));
    assert(confState.voters.length > 0, 'a forced membership has a voter');
    const hardState: HardState = {
      term: asTerm(before.hardState.term + 1),
      vote: noNode,
      commit: before.hardState.commit,
    };
    const runs = await neutralizeRuns(db);
    const report = {
      before,
      confState,
      hardState,
      neutralizedCount: runs.count,
      dryRun: options.dryRun === true,
    };
    if (report.dryRun) {
      return report;
    }
    const state = decodeRecord(
      { key: logStateKey, value: db.getSync(logStateKey) },
      location,
      decodeLogState,
    );
    const logState = { ...state, snapshot: { ...state.snapshot, confState } };
    await writeBatch(db, [
      ...runs.operations,
      {
        type: 'put',
        key: logStateKey,
        value: encodeRecord(logStateKey, encodeLogState(logState)),
      },
      {
        type: 'put',
        key: hardStateKey,
        value: encodeRecord(hardStateKey, encodeHardState(hardState)),
      },
    ]);
    await checkWritten(db, report);
    return report;
  } finally {
    await db.close();
  }
}

/** Reads the log back after the write and checks it restarts with the forced membership. */
async function checkWritten(db: LevelDatabase, report: LogRecoveryReport): Promise<void> {
  const { view } = await loadExisting(db);
  const conf = membershipAtEnd(view);
  const hardState = view.hardState();
  if (
    !sameMembers(conf.voters, report.confState.voters) ||
    !sameMembers(conf.learners, report.confState.learners) ||
    hardState.term !== report.hardState.term ||
    view.lastIndex() !== report.before.lastIndex
  ) {
    throw corruptRecord(
      logStateKey,
      db.location,
      'it does not read back as the recovery wrote it (membership, term or last index differ)',
    );
  }
}
