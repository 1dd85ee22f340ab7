/**
 * Goal: storing the log as entry runs loses nothing and keeps nothing extra, whatever mix of
 * appends, conflicting suffixes (cut inside a run, at its start, across several runs) and
 * compactions (straddling a run or not) the store sees.
 * Method: seeded random operations against a LevelLogStore on a real LevelDB and against a
 * MemoryStorage model; after every few operations the store is closed and reopened (the loader
 * verifies every run), and its entries, bounds and terms must equal the model's.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  asIndex,
  asNodeId,
  asTerm,
  EntryType,
  MemoryStorage,
  type Entry,
  type LogIndex,
} from '@coffer/raft';
import { snapshotStreamOf } from '@coffer/raft/node';
import { SeededRandom } from '@coffer/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LevelLogStore } from './level_log_store.ts';
import { appendRun } from './log_runs.ts';

const conf = { voters: [asNodeId(1)], learners: [] };
let root = '';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-log-runs-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function makeEntries(first: number, count: number, term: number): Entry[] {
  return Array.from({ length: count }, (_, i) => ({
    index: asIndex(first + i),
    term: asTerm(term),
    type: EntryType.normal,
    data: Uint8Array.of(term % 256, (first + i) % 256),
  }));
}

function contents(log: MemoryStorage | LevelLogStore): { first: number; entries: Entry[] } {
  const first = log.firstIndex();
  const last = log.lastIndex();
  const entries =
    last < first ? [] : [...log.entries(first, asIndex(last + 1), Number.POSITIVE_INFINITY)];
  return { first, entries };
}

describe('entry runs', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`LevelLogStore keeps exactly the model's log through appends, conflicts and compactions (seed ${seed})`, async () => {
      const random = new SeededRandom(seed);
      const location = join(root, `seed-${seed}`);
      let store = await LevelLogStore.open(location, { confState: conf });
      const model = new MemoryStorage(conf);
      let term = 1;
      for (let step = 0; step < 60; step++) {
        const last = model.lastIndex();
        const first = model.firstIndex();
        const roll = random.int(10);
        const snapshotIndex = model.snapshotMetadata().index;
        if (roll < 6 || last <= snapshotIndex) {
          const batch = makeEntries(last + 1, 1 + random.int(5), term);
          await store.persist(
            { hardState: undefined, entries: batch, installSnapshot: undefined },
            { sync: false },
          );
          model.append(batch);
        } else if (roll < 8) {
          // A new leader overwrites an uncommitted suffix (after the snapshot), with a higher term.
          term += 1;
          const from = snapshotIndex + 1 + random.int(last - snapshotIndex);
          const batch = makeEntries(from, 1 + random.int(4), term);
          await store.persist(
            { hardState: undefined, entries: batch, installSnapshot: undefined },
            { sync: false },
          );
          model.append(batch);
        } else {
          const at = (first + random.int(last - first + 1)) as LogIndex;
          const keep = random.int(4);
          const snapshotTerm = model.term(at);
          if (snapshotTerm === undefined || at <= model.snapshotMetadata().index) {
            continue;
          }
          await store.saveSnapshot(
            {
              metadata: { index: at, term: snapshotTerm, confState: conf },
              chunks: snapshotStreamOf(Uint8Array.of(1)),
            },
            { keepEntries: keep },
          );
          const base = Math.max(model.firstIndex() - 1, at - keep) as LogIndex;
          model.createSnapshot(at, { confState: conf, data: new Uint8Array(0) });
          model.compact(base);
        }
        if (step % 7 === 6) {
          await store.close();
          store = await LevelLogStore.open(location, { confState: conf });
        }
        expect(contents(store)).toEqual(contents(model));
      }
      await store.close();
    });
  }
});

describe('appendRun', () => {
  it('appendRun leaves a run alone when the cut falls right after it', () => {
    const view = new MemoryStorage(conf);
    view.append([...makeEntries(1, 400, 1), ...makeEntries(401, 4, 1)]);
    const change = appendRun({ runs: [1, 401], view, lastIndex: 404 }, makeEntries(401, 2, 2));
    expect(change.runs).toEqual([1, 401]);
    expect(change.operations.map((o) => [o.type, Buffer.from(o.key).readUInt32BE(5)])).toEqual([
      ['del', 401],
      ['put', 401],
    ]);
  });

  it('appendRun rewrites only the entries before the cut of the run it falls inside', () => {
    const view = new MemoryStorage(conf);
    view.append(makeEntries(1, 10, 1));
    const change = appendRun({ runs: [1, 6], view, lastIndex: 10 }, makeEntries(8, 1, 2));
    expect(change.runs).toEqual([1, 6, 8]);
    expect(change.operations.map((o) => [o.type, Buffer.from(o.key).readUInt32BE(5)])).toEqual([
      ['del', 6],
      ['put', 6],
      ['put', 8],
    ]);
  });
});
