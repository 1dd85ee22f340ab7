/**
 * Reads the Raft log back from LevelDB when a store opens, and verifies all of it before the
 * node may use any of it (STYLE.md 5.8): every record's frame and checksum, every run's
 * entries against its key, the contiguity and terms of the log from its base, the snapshot
 * pieces against the log state, and the commit index against the log's end.
 *
 * Invariant: what this returns is exactly what the last successful writes left; anything else
 * throws COFFER_STORAGE_CORRUPT_RECORD naming the first bad record, and nothing is applied.
 */
import { MemoryStorage, type ConfState, type Entry, type HardState } from '@coffer/raft';
import { decodeEntries } from '@coffer/raft/node';

import type { LevelDatabase } from './level_adapter.ts';
import {
  bodyError,
  corruptRecord,
  decodeHardState,
  decodeLogState,
  decodeRecord,
  hardStateKey,
  logStateKey,
  parsePieceKey,
  parseRunKey,
  pieceKey,
  pieceRange,
  runKey,
  runRange,
  unknownRanges,
  type LogState,
} from './log_record.ts';

/** The log as loaded: the in-memory view the core reads, and where the snapshot data lies. */
export interface LoadedLog {
  readonly view: MemoryStorage;
  /** The generation whose pieces hold the current snapshot's data. */
  readonly generation: number;
  /** The size of each piece of the current snapshot, in order. */
  readonly pieceSizes: readonly number[];
  /** A generation number no stored piece uses. */
  readonly nextGeneration: number;
  /** Keys of pieces that belong to no current snapshot (an unfinished staging, an old snapshot). */
  readonly garbage: readonly Uint8Array[];
  /** The first index of each stored entry run, in order (see log_runs.ts). */
  readonly runs: readonly number[];
}

/** The view of a new log for a node whose membership is confState. */
export function emptyLog(confState: ConfState): LoadedLog {
  return {
    view: new MemoryStorage(confState),
    generation: 0,
    pieceSizes: [],
    nextGeneration: 1,
    garbage: [],
    runs: [],
  };
}

/** The first key in range, or undefined when it holds none. */
async function firstKey(
  db: LevelDatabase,
  range: { gte: Uint8Array; lt: Uint8Array },
): Promise<Uint8Array | undefined> {
  const records = db.scan(range)[Symbol.asyncIterator]();
  const first = await records.next();
  await records.return?.();
  return first.done === true ? undefined : first.value.key;
}

/** Whether the database holds no record of any kind yet. */
async function isEmpty(db: LevelDatabase): Promise<boolean> {
  return (await firstKey(db, { gte: Uint8Array.of(0), lt: Uint8Array.of(0xff) })) === undefined;
}

/**
 * Refuses a record of a kind this version does not write (another version's layout, say the
 * per-entry records before entry runs), rather than load a log without it.
 */
async function refuseUnknownKinds(db: LevelDatabase): Promise<void> {
  for (const range of unknownRanges) {
    const key = await firstKey(db, range);
    if (key !== undefined) {
      throw corruptRecord(
        key,
        db.location,
        'its kind is unknown to this version (written by another version of Coffer?)',
      );
    }
  }
}

/**
 * Loads and verifies the log in db; undefined when db holds no log yet. Throws
 * COFFER_STORAGE_CORRUPT_RECORD when anything fails verification.
 */
export async function loadLog(db: LevelDatabase): Promise<LoadedLog | undefined> {
  const location = db.location;
  const stateValue = db.getSync(logStateKey);
  if (stateValue === undefined) {
    if (await isEmpty(db)) {
      return undefined;
    }
    throw corruptRecord(logStateKey, location, 'it is missing but the log holds other records');
  }
  await refuseUnknownKinds(db);
  const state = decodeRecord({ key: logStateKey, value: stateValue }, location, decodeLogState);
  const hardValue = db.getSync(hardStateKey);
  const hardState = decodeRecord(
    { key: hardStateKey, value: hardValue },
    location,
    decodeHardState,
  );
  const pieces = await loadPieces(db, state);
  const { entries, runs } = await loadRuns(db, state);
  return {
    view: buildView(location, { state, entries, hardState }),
    generation: state.generation,
    pieceSizes: pieces.sizes,
    nextGeneration: pieces.generationMax + 1,
    garbage: pieces.garbage,
    runs,
  };
}

/** Verifies the pieces of the current snapshot and collects those of other generations. */
async function loadPieces(
  db: LevelDatabase,
  state: LogState,
): Promise<{ sizes: number[]; garbage: Uint8Array[]; generationMax: number }> {
  const location = db.location;
  const sizes: number[] = [];
  const garbage: Uint8Array[] = [];
  let generationMax = state.generation;
  for await (const record of db.scan(pieceRange)) {
    const id = parsePieceKey(record.key);
    if (id === undefined) {
      throw corruptRecord(record.key, location, 'its key is not a snapshot piece key');
    }
    generationMax = Math.max(generationMax, id.generation);
    if (id.generation !== state.generation) {
      garbage.push(record.key);
      continue;
    }
    if (id.seq !== sizes.length) {
      const missing = pieceKey(state.generation, sizes.length);
      throw corruptRecord(missing, location, `it is missing before piece ${id.seq}`);
    }
    sizes.push(decodeRecord(record, location, (body) => body).byteLength);
  }
  const sizeBytes = sizes.reduce((n, size) => n + size, 0);
  if (sizes.length < state.pieceCount) {
    throw corruptRecord(pieceKey(state.generation, sizes.length), location, 'it is missing');
  }
  if (sizes.length !== state.pieceCount || sizeBytes !== state.sizeBytes) {
    throw corruptRecord(
      logStateKey,
      location,
      `it names ${state.pieceCount} snapshot pieces of ${state.sizeBytes} bytes but ${sizes.length} pieces of ${sizeBytes} bytes are stored`,
    );
  }
  return { sizes, garbage, generationMax };
}

function decodeRunBody(body: Uint8Array): Entry[] {
  const result = decodeEntries(body);
  if (!result.ok) {
    throw bodyError(`its entries do not decode (${result.message})`);
  }
  if (result.value.length === 0) {
    throw bodyError('it holds no entry');
  }
  return result.value;
}

/**
 * Reads the entry runs, checking keys, bodies, contiguity and terms, and returns the entries
 * after the log base. The first run may start at or below the base (compaction keeps a run
 * that still holds entries after it); every later run starts where the one before ended.
 */
async function loadRuns(
  db: LevelDatabase,
  state: LogState,
): Promise<{ entries: Entry[]; runs: number[] }> {
  const location = db.location;
  const base = state.base;
  const entries: Entry[] = [];
  const runs: number[] = [];
  let expected = base.index + 1;
  let previousTerm: number = base.term;
  for await (const record of db.scan(runRange)) {
    const first = parseRunKey(record.key);
    if (first === undefined) {
      throw corruptRecord(record.key, location, 'its key is not an entry-run key');
    }
    if (first > expected) {
      throw corruptRecord(
        runKey(expected),
        location,
        `it is missing: the log jumps to entry ${first}`,
      );
    }
    const run = decodeRecord(record, location, decodeRunBody);
    const last = first + run.length - 1;
    if (runs.length > 0 && first < expected) {
      throw corruptRecord(
        record.key,
        location,
        `it overlaps the run before it, which ends at ${expected - 1}`,
      );
    }
    if (last < expected) {
      throw corruptRecord(record.key, location, `it lies at or below the log base ${base.index}`);
    }
    for (const [i, entry] of run.entries()) {
      if (entry.index !== first + i) {
        throw corruptRecord(
          record.key,
          location,
          `its entry ${i} holds index ${entry.index}, not ${first + i}`,
        );
      }
      if (entry.index === base.index && entry.term !== base.term) {
        throw corruptRecord(
          record.key,
          location,
          `its entry ${entry.index} has term ${entry.term} but the log base has ${base.term}`,
        );
      }
      if (entry.index <= base.index) {
        continue;
      }
      if (entry.term < previousTerm) {
        throw corruptRecord(
          record.key,
          location,
          `its entry ${entry.index} has term ${entry.term}, below ${previousTerm}, the term before it`,
        );
      }
      entries.push(entry);
      previousTerm = entry.term;
    }
    runs.push(first);
    expected = last + 1;
  }
  return { entries, runs };
}

/** Rebuilds the in-memory view: base, entries, then the snapshot on top, then the hard state. */
function buildView(
  location: string,
  log: { state: LogState; entries: readonly Entry[]; hardState: HardState },
): MemoryStorage {
  const { snapshot, base } = log.state;
  const confState = snapshot.confState;
  const view = new MemoryStorage(confState);
  view.applySnapshot({ index: base.index, term: base.term, confState }, new Uint8Array(0));
  view.append(log.entries);
  const termAtSnapshot = view.term(snapshot.index);
  if (termAtSnapshot !== snapshot.term) {
    throw corruptRecord(
      logStateKey,
      location,
      `its snapshot ${snapshot.index} has term ${snapshot.term} but the log has ${termAtSnapshot ?? 'no entry'} there`,
    );
  }
  if (snapshot.index > base.index) {
    view.createSnapshot(snapshot.index, { confState, data: new Uint8Array(0) });
  }
  if (log.hardState.commit > view.lastIndex()) {
    throw corruptRecord(
      hardStateKey,
      location,
      `its commit index ${log.hardState.commit} passes the log's last index ${view.lastIndex()}`,
    );
  }
  view.setHardState(log.hardState);
  return view;
}
