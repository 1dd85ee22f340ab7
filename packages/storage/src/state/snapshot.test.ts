/**
 * Goal: a state snapshot restores to exactly the state it was taken from (hash, applied index
 * and term, key count, sections), whatever way its stream is cut, across a reopen, and from a
 * view pinned before later applies; verifySnapshot checks a backup without writing.
 * Method: seeded random logs applied to real LevelDB stores in a temporary directory;
 * snapshots with small chunks so that streams have many frames; restores into stores holding
 * other state. No clock, no sleeps.
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { asIndex, asTerm } from '@coffer/raft';
import { SeededRandom } from '@coffer/raft/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { StorageErrorCode } from '../errors.ts';
import { LevelStateStore } from './level_state_store.ts';
import { encodeStateCommand } from './state_command.ts';
import { frameHeaderBytes, membershipBytesMax, prefixBytes } from './snapshot_format.ts';
import { verifySnapshot } from './snapshot_reader.ts';
import { collect, fillStore, recut, countKeys } from './snapshot_test_support.ts';
import type { SnapshotOptions } from './snapshot_writer.ts';

let root: string;
const stores: LevelStateStore[] = [];
const key = new Uint8Array(32).fill(7);
const sessions = Uint8Array.from(randomBytes(5000));
const options: SnapshotOptions = {
  key,
  membership: Uint8Array.of(1, 2, 3),
  keyringTerm: 3,
  sections: [
    { name: 'sessions', data: sessions },
    { name: 'empty', data: new Uint8Array(0) },
    { name: 'tail', data: Uint8Array.of(9, 8, 7) },
  ],
  chunkSizeBytes: 1024,
};

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-snapshot-'));
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close().catch(() => undefined)));
  await rm(root, { recursive: true, force: true });
});

async function openStore(name: string): Promise<LevelStateStore> {
  const store = await LevelStateStore.open(join(root, name), { syncApply: false });
  stores.push(store);
  return store;
}

/** A source store with a seeded random state, and its snapshot's chunks. */
async function sourceSnapshot(
  seed: number,
): Promise<{ source: LevelStateStore; chunks: Uint8Array[] }> {
  const source = await openStore(`source-${seed}`);
  await fillStore(source, new SeededRandom(seed), 1500);
  const snapshot = await source.snapshot(options);
  return { source, chunks: await collect(snapshot.chunks) };
}

// Real disk and thousands of cases: generous bounds for a loaded CI machine.
describe('state snapshot round trip', { timeout: 30_000 }, () => {
  it('LevelStateStore.restore installs exactly the state a snapshot was taken from', async () => {
    const { source, chunks } = await sourceSnapshot(1);
    const target = await openStore('target');
    await fillStore(target, new SeededRandom(2), 300);
    // Read every key first, so the recent-values cache holds the old state (or its absence).
    const before = await target.list('', { limit: 1000 });
    const sourceKeys = (await source.list('', { limit: 1000 })).keys;
    for (const k of [...before.keys, ...sourceKeys]) {
      target.get(k);
    }
    const restored = await target.restore(chunks, { key });
    // Regression: the cache is cleared by a restore, so every read shows the snapshot's state.
    for (const k of new Set([...before.keys, ...sourceKeys])) {
      expect(target.get(k), k).toEqual(source.get(k));
    }
    expect(await target.stateHash()).toBe(await source.stateHash());
    expect(target.appliedIndex()).toBe(source.appliedIndex());
    expect(target.appliedTerm()).toBe(source.appliedTerm());
    expect(await countKeys(target)).toBe(await countKeys(source));
    expect(restored.manifest).toEqual({
      formatVersion: 1,
      index: source.appliedIndex(),
      term: source.appliedTerm(),
      keyCount: await countKeys(source),
      keyringTerm: 3,
      membership: Uint8Array.of(1, 2, 3),
      sections: [
        { name: 'sessions', byteLength: 5000 },
        { name: 'empty', byteLength: 0 },
        { name: 'tail', byteLength: 3 },
      ],
    });
    expect(restored.sections).toEqual(
      new Map([
        ['sessions', sessions],
        ['empty', new Uint8Array(0)],
        ['tail', Uint8Array.of(9, 8, 7)],
      ]),
    );
    // One frame per chunk, each within the chunk size (the first also carries the prefix).
    expect(chunks.length).toBeGreaterThan(20);
    for (const [i, chunk] of chunks.entries()) {
      const overhead = frameHeaderBytes + 32 + (i === 0 ? prefixBytes : 0);
      expect(chunk.byteLength).toBeLessThanOrEqual(1024 + overhead);
    }
  });

  it('LevelStateStore.restore accepts the stream cut anywhere, sync or async', async () => {
    const { source, chunks } = await sourceSnapshot(3);
    const whole = Buffer.concat(chunks);
    const random = new SeededRandom(4);
    const cuts = [[whole], recut(random, whole, 7), recut(random, whole, 3000)];
    for (const [i, cut] of cuts.entries()) {
      const target = await openStore(`target-${i}`);
      await target.restore(cut, { key });
      expect(await target.stateHash()).toBe(await source.stateHash());
    }
  });

  it('LevelStateStore keeps a restored state across a reopen and drops the replaced one', async () => {
    const { source, chunks } = await sourceSnapshot(5);
    let target = await openStore('target');
    await target.restore(chunks, { key });
    await target.restore(chunks, { key });
    await target.close();
    target = await openStore('target');
    expect(await target.stateHash()).toBe(await source.stateHash());
    expect(await readdir(join(root, 'target'))).toEqual(['CURRENT', 'state-000000000003']);
    const next = source.appliedIndex() + 1;
    const command = encodeStateCommand({
      kind: 'put',
      key: 'after/restore',
      value: Uint8Array.of(1),
    });
    await target.apply([{ index: asIndex(next), term: target.appliedTerm(), data: command }]);
    expect(target.get('after/restore')?.version).toBe(next);
  });

  it('LevelStateStore.snapshot streams the state as of the call, not later applies', async () => {
    const source = await openStore('source');
    await fillStore(source, new SeededRandom(6), 500);
    const hashAtSnapshot = await source.stateHash();
    const snapshot = await source.snapshot(options);
    const more = encodeStateCommand({ kind: 'put', key: 'later', value: Uint8Array.of(1) });
    await source.apply([
      { index: asIndex(source.appliedIndex() + 1), term: asTerm(1000), data: more },
    ]);
    const target = await openStore('target');
    await target.restore(snapshot.chunks, { key });
    expect(await target.stateHash()).toBe(hashAtSnapshot);
    expect(target.get('later')).toBeUndefined();
  });

  it('LevelStateStore.snapshot of an empty state restores to an empty state', async () => {
    const source = await openStore('source');
    const target = await openStore('target');
    await fillStore(target, new SeededRandom(7), 100);
    const snapshot = await source.snapshot({ key, membership: new Uint8Array(0), keyringTerm: 0 });
    expect(snapshot).toMatchObject({ index: 0, term: 0 });
    await target.restore(snapshot.chunks, { key });
    expect(await target.stateHash()).toBe(await source.stateHash());
    expect(await countKeys(target)).toBe(0);
  });

  it('verifySnapshot checks a stream under a KeyObject without writing anything', async () => {
    const source = await openStore('source');
    await fillStore(source, new SeededRandom(8), 200);
    const keyObject = createSecretKey(key);
    const snapshot = await source.snapshot({ ...options, key: keyObject });
    const verified = await verifySnapshot(snapshot.chunks, { key });
    expect(verified.manifest.keyCount).toBe(await countKeys(source));
    expect(verified.chunkCount).toBeGreaterThan(3);
  });

  it('LevelStateStore.snapshot refuses options that break a limit', async () => {
    const source = await openStore('source');
    const bad: Partial<SnapshotOptions>[] = [
      { membership: new Uint8Array(membershipBytesMax + 1) },
      {
        sections: [
          { name: 'a', data: new Uint8Array(1) },
          { name: 'a', data: new Uint8Array(1) },
        ],
      },
      { sections: [{ name: '', data: new Uint8Array(1) }] },
      { chunkSizeBytes: 8 },
      { keyringTerm: -1 },
    ];
    for (const change of bad) {
      const snapshot = await source.snapshot({ ...options, ...change });
      await expect(collect(snapshot.chunks)).rejects.toMatchObject({
        code: StorageErrorCode.invalidArgument,
      });
    }
  });

  it('the snapshot key shows nowhere: not in the store, the snapshot, nor a refusal', async () => {
    const secret = new Uint8Array(32).fill(0xab);
    const source = await openStore('source');
    await fillStore(source, new SeededRandom(9), 50);
    const snapshot = await source.snapshot({ ...options, key: secret });
    const shown = [
      inspect(source, { depth: 8 }),
      inspect(snapshot, { depth: 8 }),
      JSON.stringify(snapshot),
    ];
    const chunks = await collect(snapshot.chunks);
    const target = await openStore('target');
    const refusal = await target.restore(chunks, { key }).catch((error: unknown) => error);
    expect(refusal).toMatchObject({ code: StorageErrorCode.snapshotAuthFailed });
    shown.push(inspect(refusal, { depth: 8 }));
    for (const text of shown) {
      expect(text).not.toMatch(/171, 171|abab|q6ur/i);
    }
  });

  it('StateSnapshot.close releases a stream that is never read', async () => {
    const source = await openStore('source');
    const snapshot = await source.snapshot(options);
    await snapshot.close();
    await snapshot.close();
    await source.close();
  });
});
