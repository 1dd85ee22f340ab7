/**
 * The conformance suite every {@link DurableLog} passes (STYLE.md §8.3, after abstract-level's
 * shared test suite): the in-memory log here and the LevelDB store in @coffer/storage run the
 * same tests, so the driver and the simulator can trust that both behave alike.
 *
 * Goal: pin down the contract the ports describe in words: the empty log, appends and reads
 * with size limits, suffix replacement, hard state, reopening, staged and installed snapshots,
 * saved snapshots with compaction, snapshot reads, term() at the boundaries, batches that would
 * break the log (refused with a typed error and nothing written), and use after close.
 * Method: each test opens a store at a fresh location from the factory, drives it through the
 * DurableLog port only, and reopens it (close, then open at the same location) to check what
 * survived. Stores left open are closed after each test; locations are removed after the suite.
 *
 * NB: this file imports vitest, so @coffer/raft/testing lists vitest as a peer dependency.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import {
  asIndex,
  asNodeId,
  asTerm,
  EntryType,
  type ConfState,
  type Entry,
  type HardState,
  type SnapshotChunk,
  type SnapshotMetadata,
} from '../index.ts';
import {
  collectSnapshotStream,
  snapshotStreamOf,
  type DurableLog,
  type PersistBatch,
  type SaveSnapshotOutcome,
  type SnapshotStream,
} from '../node.ts';

/** How the suite opens the store under test. */
export interface LogStoreFactory {
  /**
   * Opens the store at location. A location that holds no log starts one for a node whose
   * membership is confState; one that holds a log ignores confState.
   */
  open(location: string, confState: ConfState): Promise<DurableLog>;
  /** A new location that holds no log, for one test. */
  newLocation(): Promise<string>;
  /** Removes every location the factory made; runs once after the suite. */
  cleanup(): Promise<void>;
  /** The codes the store throws for a write that would break the log and for use after close. */
  readonly codes: { readonly invalidWrite: string; readonly closed: string };
}

const conf: ConfState = { voters: [asNodeId(1), asNodeId(2), asNodeId(3)], learners: [] };

/** An entry whose payload is sizeBytes bytes, each equal to index modulo 256. */
function entry(index: number, term: number, sizeBytes = 3): Entry {
  return {
    index: asIndex(index),
    term: asTerm(term),
    type: EntryType.normal,
    data: new Uint8Array(sizeBytes).fill(index % 256),
  };
}

/** Entries first, first+1, ... with the given terms. */
function run(first: number, ...terms: number[]): Entry[] {
  return terms.map((term, i) => entry(first + i, term));
}

function hard(term: number, vote: number, commit: number): HardState {
  return { term: asTerm(term), vote: asNodeId(vote), commit: asIndex(commit) };
}

function batch(fields: Partial<PersistBatch>): PersistBatch {
  return { hardState: undefined, entries: [], installSnapshot: undefined, ...fields };
}

function bytes(sizeBytes: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: sizeBytes }, (_, i) => (i * 31 + seed) % 251);
}

function snapshotMetadata(index: number, term: number): SnapshotMetadata {
  return {
    index: asIndex(index),
    term: asTerm(term),
    confState: { voters: [asNodeId(1), asNodeId(4)], learners: [asNodeId(5)] },
  };
}

/** The chunks of data for metadata, each at most chunkSizeBytes long. */
function chunksOf(
  metadata: SnapshotMetadata,
  data: Uint8Array,
  chunkSizeBytes: number,
): SnapshotChunk[] {
  const chunks: SnapshotChunk[] = [];
  for (let offset = 0; offset === 0 || offset < data.byteLength; offset += chunkSizeBytes) {
    const end = Math.min(data.byteLength, offset + chunkSizeBytes);
    chunks.push({
      metadata,
      offsetBytes: offset,
      data: data.slice(offset, end),
      done: end === data.byteLength,
    });
  }
  return chunks;
}

/** Opens, reopens and finally closes the stores of one test. */
class Harness {
  readonly #factory: LogStoreFactory;
  readonly #open = new Set<DurableLog>();
  readonly #locations = new Map<DurableLog, string>();

  constructor(factory: LogStoreFactory) {
    this.#factory = factory;
  }

  /** A store at a new location. */
  async fresh(confState: ConfState = conf): Promise<DurableLog> {
    return this.#track(await this.#factory.newLocation(), confState);
  }

  /** A new store holding entries 1..n with the given terms, synced. */
  async filled(...terms: number[]): Promise<DurableLog> {
    const log = await this.fresh();
    await log.persist(batch({ entries: run(1, ...terms) }), { sync: true });
    return log;
  }

  /** Closes log and opens its location again. */
  async reopen(log: DurableLog): Promise<DurableLog> {
    const location = this.#locations.get(log);
    if (location === undefined) {
      throw new Error('Cannot reopen a log the harness did not open');
    }
    await log.close();
    this.#open.delete(log);
    return this.#track(location, { voters: [asNodeId(9)], learners: [] });
  }

  /** Yields log, then closes it and yields the log reopened at its location. */
  async *andReopened(log: DurableLog): AsyncGenerator<DurableLog> {
    yield log;
    yield await this.reopen(log);
  }

  async closeAll(): Promise<void> {
    for (const log of this.#open) {
      await log.close();
    }
    this.#open.clear();
  }

  async #track(location: string, confState: ConfState): Promise<DurableLog> {
    const log = await this.#factory.open(location, confState);
    this.#open.add(log);
    this.#locations.set(log, location);
    return log;
  }
}

/** Every entry of the log, read in one call. */
function all(log: DurableLog): readonly Entry[] {
  if (log.lastIndex() < log.firstIndex()) {
    return [];
  }
  return log.entries(log.firstIndex(), asIndex(log.lastIndex() + 1), Infinity);
}

/** Returns value, failing the test setup when it is missing. */
function defined<T>(value: T | undefined): T {
  if (value === undefined) {
    throw new Error('Test setup produced no value');
  }
  return value;
}

/** The code of the error fn throws or rejects with; undefined when it succeeds. */
async function codeOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return (error as { code?: unknown }).code;
  }
  return undefined;
}

/**
 * Registers the conformance suite for one DurableLog implementation under `name`.
 * Call it at the top level of a test file.
 */
export function describeLogStoreConformance(name: string, factory: LogStoreFactory): void {
  describe(`${name} conforms to DurableLog`, () => {
    const harness = new Harness(factory);
    afterEach(() => harness.closeAll());
    afterAll(() => factory.cleanup());
    describeEmpty(harness);
    describeAppend(harness);
    describeHardState(harness);
    describeInstall(harness);
    describeSaveSnapshot(harness);
    describeSaveSnapshotStream(harness);
    describeRejected(harness, factory.codes.invalidWrite);
    describeRejectedSnapshots(harness, factory.codes.invalidWrite);
    describeClosed(harness, factory.codes.closed);
  });
}

function describeEmpty(harness: Harness): void {
  it('DurableLog reads an empty log with the given membership when the location is new', async () => {
    const log = await harness.fresh();
    expect(log.firstIndex()).toBe(1);
    expect(log.lastIndex()).toBe(0);
    expect(log.term(asIndex(0))).toBe(0);
    expect(log.term(asIndex(1))).toBeUndefined();
    expect(log.initialState()).toEqual({ hardState: hard(0, 0, 0), confState: conf });
    expect(log.snapshotMetadata()).toEqual({ index: 0, term: 0, confState: conf });
    expect(log.snapshotChunk(asIndex(0), 0, 100)).toEqual({ data: new Uint8Array(0), done: true });
    expect(await collectSnapshotStream(log.snapshotData())).toEqual(new Uint8Array(0));
  });

  it('DurableLog keeps the first membership when reopened with another', async () => {
    const log = await harness.reopen(await harness.fresh());
    expect(log.initialState().confState).toEqual(conf);
    expect(log.lastIndex()).toBe(0);
  });
}

function describeAppend(harness: Harness): void {
  it('DurableLog.persist appends entries that entries() and term() read back', async () => {
    const log = await harness.filled(1, 1, 2, 2, 3);
    expect(log.firstIndex()).toBe(1);
    expect(log.lastIndex()).toBe(5);
    expect(all(log)).toEqual(run(1, 1, 1, 2, 2, 3));
    expect(log.entries(asIndex(2), asIndex(4), Infinity)).toEqual(run(2, 1, 2));
    expect([0, 1, 2, 3, 4, 5, 6].map((i) => log.term(asIndex(i)))).toEqual([
      0,
      1,
      1,
      2,
      2,
      3,
      undefined,
    ]);
    await log.persist(batch({ entries: run(6, 3, 4) }), { sync: false });
    expect(all(log)).toEqual(run(1, 1, 1, 2, 2, 3, 3, 4));
  });

  it('DurableLog.entries stops before the payload passes sizeBytesMax', async () => {
    const log = await harness.filled(1, 1, 1, 1);
    expect(log.entries(asIndex(1), asIndex(5), 6)).toEqual(run(1, 1, 1));
    expect(log.entries(asIndex(1), asIndex(5), 8)).toEqual(run(1, 1, 1));
    expect(log.entries(asIndex(2), asIndex(5), 9)).toEqual(run(2, 1, 1, 1));
  });

  it('DurableLog.entries returns one entry when the first alone passes sizeBytesMax', async () => {
    const log = await harness.filled(1, 1);
    expect(log.entries(asIndex(1), asIndex(3), 0)).toEqual(run(1, 1));
  });

  it('DurableLog.persist replaces a conflicting suffix, also after reopen', async () => {
    const log = await harness.filled(1, 1, 1, 1, 1);
    await log.persist(batch({ entries: run(3, 2, 2) }), { sync: true });
    expect(log.lastIndex()).toBe(4);
    expect(all(log)).toEqual(run(1, 1, 1, 2, 2));
    const reopened = await harness.reopen(log);
    expect(all(reopened)).toEqual(run(1, 1, 1, 2, 2));
    expect(reopened.term(asIndex(5))).toBeUndefined();
  });

  it('DurableLog reopened after close holds every batch, synced or not', async () => {
    const log = await harness.filled(1, 1);
    await log.persist(batch({ entries: run(3, 2), hardState: hard(2, 1, 2) }), { sync: false });
    const reopened = await harness.reopen(log);
    expect(all(reopened)).toEqual(run(1, 1, 1, 2));
    expect(reopened.initialState().hardState).toEqual(hard(2, 1, 2));
    await reopened.persist(batch({ entries: run(4, 2) }), { sync: true });
    expect(reopened.lastIndex()).toBe(4);
  });
}

function describeHardState(harness: Harness): void {
  it('DurableLog.persist writes the hard state alone and with entries', async () => {
    const log = await harness.fresh();
    await log.persist(batch({ hardState: hard(1, 2, 0) }), { sync: true });
    expect(log.initialState().hardState).toEqual(hard(1, 2, 0));
    await log.persist(batch({ hardState: hard(2, 0, 2), entries: run(1, 1, 2) }), { sync: true });
    expect(log.initialState().hardState).toEqual(hard(2, 0, 2));
    const reopened = await harness.reopen(log);
    expect(reopened.initialState()).toEqual({ hardState: hard(2, 0, 2), confState: conf });
    expect(reopened.lastIndex()).toBe(2);
  });

  it('DurableLog.persist keeps the hard state when the batch has none', async () => {
    const log = await harness.fresh();
    await log.persist(batch({ hardState: hard(3, 1, 0) }), { sync: true });
    await log.persist(batch({ entries: run(1, 3) }), { sync: true });
    expect((await harness.reopen(log)).initialState().hardState).toEqual(hard(3, 1, 0));
  });
}

async function stageAll(log: DurableLog, chunks: readonly SnapshotChunk[]): Promise<void> {
  for (const chunk of chunks) {
    await log.stageSnapshotChunk(chunk);
  }
}

function describeInstall(harness: Harness): void {
  const metadata = snapshotMetadata(10, 3);
  const data = bytes(2500, 7);

  it('DurableLog.persist installs the staged snapshot as the new log base', async () => {
    const log = await harness.filled(1, 1, 2);
    await stageAll(log, chunksOf(metadata, data, 1000));
    await log.persist(batch({ installSnapshot: metadata, hardState: hard(3, 0, 10) }), {
      sync: true,
    });
    for await (const current of harness.andReopened(log)) {
      expect(current.firstIndex()).toBe(11);
      expect(current.lastIndex()).toBe(10);
      expect(current.term(asIndex(10))).toBe(3);
      expect(current.term(asIndex(9))).toBeUndefined();
      expect(current.snapshotMetadata()).toEqual(metadata);
      expect(current.initialState()).toEqual({
        hardState: hard(3, 0, 10),
        confState: metadata.confState,
      });
      expect(await collectSnapshotStream(current.snapshotData())).toEqual(data);
    }
  });

  it('DurableLog.persist installs a snapshot and appends the entries after it in one batch', async () => {
    const log = await harness.filled(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    await stageAll(log, chunksOf(metadata, data, 4096));
    await log.persist(batch({ installSnapshot: metadata, entries: run(11, 3, 4) }), { sync: true });
    const reopened = await harness.reopen(log);
    expect(all(reopened)).toEqual(run(11, 3, 4));
    expect(reopened.term(asIndex(10))).toBe(3);
    expect(reopened.term(asIndex(12))).toBe(4);
  });

  it('DurableLog.stageSnapshotChunk at offset 0 discards the chunks staged before', async () => {
    const log = await harness.fresh();
    const chunks = chunksOf(metadata, data, 1000);
    await stageAll(log, chunks.slice(0, 2));
    await stageAll(log, chunks);
    await log.persist(batch({ installSnapshot: metadata }), { sync: true });
    expect(await collectSnapshotStream(log.snapshotData())).toEqual(data);
  });

  it('DurableLog.snapshotChunk reads slices and reports done at the end', async () => {
    const log = await harness.fresh();
    await stageAll(log, chunksOf(metadata, data, 700));
    await log.persist(batch({ installSnapshot: metadata }), { sync: true });
    const index = asIndex(10);
    expect(log.snapshotChunk(index, 0, 1000)).toEqual({ data: data.slice(0, 1000), done: false });
    expect(log.snapshotChunk(index, 650, 100)).toEqual({ data: data.slice(650, 750), done: false });
    expect(log.snapshotChunk(index, 2000, 1000)).toEqual({ data: data.slice(2000), done: true });
    expect(log.snapshotChunk(index, 0, 2500)).toEqual({ data, done: true });
    expect(log.snapshotChunk(asIndex(9), 0, 100)).toBeUndefined();
  });
}

function describeSaveSnapshot(harness: Harness): void {
  const data = bytes(3000, 1);

  it('DurableLog.saveSnapshot keeps keepEntries entries before the snapshot index', async () => {
    const log = await harness.filled(1, 1, 1, 2, 2, 2, 3, 3, 3, 3);
    await log.saveSnapshot(
      { metadata: snapshotMetadata(8, 3), chunks: snapshotStreamOf(data, 700) },
      { keepEntries: 3 },
    );
    for await (const current of harness.andReopened(log)) {
      expect(current.firstIndex()).toBe(6);
      expect(current.lastIndex()).toBe(10);
      expect(current.term(asIndex(5))).toBe(2);
      expect(current.term(asIndex(4))).toBeUndefined();
      expect(current.term(asIndex(11))).toBeUndefined();
      expect(all(current)).toEqual(run(6, 2, 3, 3, 3, 3));
      expect(current.snapshotMetadata()).toEqual(snapshotMetadata(8, 3));
      expect(current.initialState().confState).toEqual(snapshotMetadata(8, 3).confState);
      expect(await collectSnapshotStream(current.snapshotData())).toEqual(data);
      expect(current.snapshotChunk(asIndex(8), 1000, 1000)).toEqual({
        data: data.slice(1000, 2000),
        done: false,
      });
    }
  });

  it('DurableLog.saveSnapshot compacts up to the snapshot index when keepEntries is 0', async () => {
    const log = await harness.filled(1, 1, 2, 2);
    await log.saveSnapshot(
      { metadata: snapshotMetadata(4, 2), chunks: snapshotStreamOf(data, 700) },
      { keepEntries: 0 },
    );
    const reopened = await harness.reopen(log);
    expect(reopened.firstIndex()).toBe(5);
    expect(reopened.lastIndex()).toBe(4);
    expect(reopened.term(asIndex(4))).toBe(2);
    await reopened.persist(batch({ entries: run(5, 3) }), { sync: true });
    expect(all(reopened)).toEqual(run(5, 3));
  });

  it('DurableLog.saveSnapshot keeps the whole log when keepEntries reaches past its start', async () => {
    const log = await harness.filled(1, 1, 2, 2);
    await log.saveSnapshot(
      { metadata: snapshotMetadata(3, 2), chunks: snapshotStreamOf(data, 700) },
      { keepEntries: 10 },
    );
    await log.saveSnapshot(
      { metadata: snapshotMetadata(4, 2), chunks: snapshotStreamOf(bytes(10, 2)) },
      { keepEntries: 10 },
    );
    const reopened = await harness.reopen(log);
    expect(reopened.firstIndex()).toBe(1);
    expect(reopened.snapshotMetadata().index).toBe(4);
    expect(await collectSnapshotStream(reopened.snapshotData())).toEqual(bytes(10, 2));
  });

  it('DurableLog.snapshotChunk returns undefined for a snapshot that a newer one replaced', async () => {
    const log = await harness.filled(1, 1, 2, 2);
    await log.saveSnapshot(
      { metadata: snapshotMetadata(2, 1), chunks: snapshotStreamOf(data, 700) },
      { keepEntries: 0 },
    );
    expect(log.snapshotChunk(asIndex(2), 0, 10)).toEqual({ data: data.slice(0, 10), done: false });
    await log.saveSnapshot(
      { metadata: snapshotMetadata(4, 2), chunks: snapshotStreamOf(data, 700) },
      { keepEntries: 0 },
    );
    expect(log.snapshotChunk(asIndex(2), 0, 10)).toBeUndefined();
    expect(log.snapshotChunk(asIndex(4), 2990, 100)).toEqual({
      data: data.slice(2990),
      done: true,
    });
  });
}

function describeSaveSnapshotStream(harness: Harness): void {
  const data = bytes(3000, 1);

  it('DurableLog.saveSnapshot leaves the log as it was when the snapshot stream fails', async () => {
    const log = await harness.filled(1, 1, 2, 2);
    async function* failing(): SnapshotStream {
      yield await Promise.resolve(bytes(1500, 4));
      throw new Error('the state machine could not read its state');
    }
    await expect(
      log.saveSnapshot({ metadata: snapshotMetadata(3, 2), chunks: failing() }, { keepEntries: 0 }),
    ).rejects.toThrow('could not read');
    await log.persist(batch({ entries: run(5, 2) }), { sync: true });
    expect(log.snapshotMetadata().index).toBe(0);
    expect(
      await log.saveSnapshot(
        { metadata: snapshotMetadata(4, 2), chunks: snapshotStreamOf(data, 700) },
        { keepEntries: 0 },
      ),
    ).toBe('saved');
    for await (const current of harness.andReopened(log)) {
      expect(current.snapshotMetadata().index).toBe(4);
      expect(all(current)).toEqual(run(5, 2));
      expect(await collectSnapshotStream(current.snapshotData())).toEqual(data);
    }
  });
}

/** Checks that a refused write changed nothing, in memory and after reopen. */
async function expectUnchanged(
  harness: Harness,
  log: DurableLog,
  entries: readonly Entry[],
): Promise<void> {
  for await (const current of harness.andReopened(log)) {
    expect(all(current)).toEqual(entries);
    expect(current.initialState().hardState).toEqual(hard(1, 1, 1));
  }
}

function describeRejected(harness: Harness, code: string): void {
  async function start(): Promise<DurableLog> {
    const log = await harness.filled(1, 1, 1);
    await log.persist(batch({ hardState: hard(1, 1, 1) }), { sync: true });
    return log;
  }
  const cases: readonly [string, PersistBatch][] = [
    [
      'an index gap inside the batch',
      batch({ entries: [entry(4, 1), entry(6, 1)], hardState: hard(2, 0, 1) }),
    ],
    [
      'a term regression inside the batch',
      batch({ entries: [entry(4, 2), entry(5, 1)], hardState: hard(2, 0, 1) }),
    ],
    [
      'entries that leave a gap after the log',
      batch({ entries: run(5, 1), hardState: hard(2, 0, 1) }),
    ],
    [
      'an entry whose term is below the one before it',
      batch({ entries: run(3, 0), hardState: hard(2, 0, 1) }),
    ],
    ['a hard state whose term goes back', batch({ entries: run(4, 1), hardState: hard(0, 1, 1) })],
    ['a vote that changes within a term', batch({ entries: run(4, 1), hardState: hard(1, 2, 1) })],
    ['a commit index past the log', batch({ entries: run(4, 1), hardState: hard(1, 1, 9) })],
    [
      'an install with no staged snapshot',
      batch({ installSnapshot: snapshotMetadata(10, 3), hardState: hard(3, 0, 10) }),
    ],
  ];
  for (const [what, refused] of cases) {
    it(`DurableLog.persist rejects ${what} and writes none of the batch`, async () => {
      const log = await start();
      expect(await codeOf(() => log.persist(refused, { sync: true }))).toBe(code);
      await expectUnchanged(harness, log, run(1, 1, 1, 1));
    });
  }
}

function describeRejectedSnapshots(harness: Harness, code: string): void {
  const metadata = snapshotMetadata(10, 3);
  const chunks = chunksOf(metadata, bytes(2500, 3), 1000);

  it('DurableLog.persist rejects entries at or below the snapshot index', async () => {
    const log = await harness.filled(1, 1, 2, 2);
    await log.saveSnapshot(
      { metadata: snapshotMetadata(3, 2), chunks: snapshotStreamOf(bytes(5, 0)) },
      { keepEntries: 1 },
    );
    expect(await codeOf(() => log.persist(batch({ entries: run(3, 2) }), { sync: true }))).toBe(
      code,
    );
    expect(all(log)).toEqual(run(3, 2, 2));
  });

  it('DurableLog.persist rejects an install whose chunks are not all staged', async () => {
    const log = await harness.filled(1, 1, 1);
    await stageAll(log, chunks.slice(0, 2));
    expect(
      await codeOf(() => log.persist(batch({ installSnapshot: metadata }), { sync: true })),
    ).toBe(code);
    expect(
      await codeOf(() =>
        log.persist(batch({ installSnapshot: snapshotMetadata(10, 4) }), { sync: true }),
      ),
    ).toBe(code);
    expect(log.lastIndex()).toBe(3);
    expect(log.snapshotMetadata().index).toBe(0);
  });

  it('DurableLog.stageSnapshotChunk rejects a chunk that does not continue the staged data', async () => {
    const log = await harness.fresh();
    const [first, second, third] = chunks.map((chunk) => defined(chunk));
    expect(await codeOf(() => log.stageSnapshotChunk(defined(second)))).toBe(code);
    await log.stageSnapshotChunk(defined(first));
    expect(await codeOf(() => log.stageSnapshotChunk(defined(third)))).toBe(code);
    const other = { ...defined(second), metadata: snapshotMetadata(11, 3) };
    expect(await codeOf(() => log.stageSnapshotChunk(other))).toBe(code);
    await log.stageSnapshotChunk(defined(second));
    await log.stageSnapshotChunk(defined(third));
    await log.persist(batch({ installSnapshot: metadata }), { sync: true });
    expect(log.snapshotMetadata()).toEqual(metadata);
  });

  it('DurableLog.saveSnapshot rejects an index past the log or a wrong term, and drops an old index', async () => {
    const log = await harness.filled(1, 1, 2);
    const save = (index: number, term: number): Promise<SaveSnapshotOutcome> =>
      log.saveSnapshot(
        { metadata: snapshotMetadata(index, term), chunks: snapshotStreamOf(bytes(4, 0)) },
        { keepEntries: 0 },
      );
    expect(await codeOf(() => save(4, 2))).toBe(code);
    expect(await codeOf(() => save(3, 1))).toBe(code);
    expect(await save(2, 1)).toBe('saved');
    expect(await save(1, 1)).toBe('superseded');
    expect(await save(2, 1)).toBe('superseded');
    const reopened = await harness.reopen(log);
    expect(reopened.snapshotMetadata().index).toBe(2);
    expect(all(reopened)).toEqual(run(3, 2));
  });
}

function describeClosed(harness: Harness, code: string): void {
  it('DurableLog rejects reads and writes after close with a typed error', async () => {
    const log = await harness.filled(1, 1);
    await log.close();
    const calls: (() => unknown)[] = [
      () => log.initialState(),
      () => log.entries(asIndex(1), asIndex(2), Infinity),
      () => log.term(asIndex(1)),
      () => log.firstIndex(),
      () => log.lastIndex(),
      () => log.snapshotMetadata(),
      () => log.snapshotChunk(asIndex(0), 0, 10),
      () => log.snapshotData(),
      () => log.persist(batch({ entries: run(3, 1) }), { sync: true }),
      () => log.stageSnapshotChunk(defined(chunksOf(snapshotMetadata(5, 1), bytes(3, 0), 10)[0])),
      () =>
        log.saveSnapshot(
          { metadata: snapshotMetadata(1, 1), chunks: snapshotStreamOf(bytes(1, 0)) },
          { keepEntries: 0 },
        ),
    ];
    for (const call of calls) {
      expect(await codeOf(call)).toBe(code);
    }
  });

  it('DurableLog.close resolves when the log is already closed', async () => {
    const log = await harness.fresh();
    await log.close();
    await expect(log.close()).resolves.toBeUndefined();
  });
}
