/**
 * Goal: LevelStateStore applies committed entries atomically and idempotently, keeps
 * transactions all-or-nothing, pages listings, survives reopening, stops for good after a
 * failed write, and never uses a stored record that fails its check.
 * Method: real LevelDB in a temporary directory per test. Entries are built with the public
 * codec; faults are injected through the wrapDatabase hook; corruption is written into the
 * generation's LevelDB directly while the store is closed. No clock, no sleeps.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

import { asIndex, asTerm } from '@coffer/raft';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { StorageErrorCode } from '../errors.ts';
import { LevelStateStore, type LevelStateStoreOptions } from './level_state_store.ts';
import type { StateEntry } from './state_apply.ts';
import { encodeStateCommand, type StateCommand } from './state_command.ts';
import { openStateDatabase, type StateDatabase } from './state_database.ts';
import { collect, countKeys } from './snapshot_test_support.ts';
import { dataKey, stateRecordKey } from './state_keys.ts';

let root: string;
const open: LevelStateStore[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-state-'));
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((store) => store.close().catch(() => undefined)));
  await rm(root, { recursive: true, force: true });
});

async function openStore(options?: LevelStateStoreOptions): Promise<LevelStateStore> {
  const store = await LevelStateStore.open(join(root, 'state'), options);
  open.push(store);
  return store;
}

const text = new TextEncoder();

function entry(index: number, command: StateCommand | Uint8Array, term = 1): StateEntry {
  const data = command instanceof Uint8Array ? command : encodeStateCommand(command);
  return { index: asIndex(index), term: asTerm(term), data };
}

function put(key: string, value: string): StateCommand {
  return { kind: 'put', key, value: text.encode(value) };
}

function read(store: LevelStateStore, key: string): string | undefined {
  const stored = store.get(key);
  return stored === undefined ? undefined : new TextDecoder().decode(stored.value);
}

async function generationDir(): Promise<string> {
  const names = (await readdir(join(root, 'state'))).filter((name) => name.startsWith('state-'));
  expect(names).toHaveLength(1);
  return join(root, 'state', names[0] ?? '');
}

/** Rewrites one raw record of the closed store's live generation. */
async function tamper(key: Uint8Array, change: (value: Uint8Array) => Uint8Array): Promise<void> {
  const db = await openStateDatabase(await generationDir(), { createIfMissing: false });
  const value = db.getSync(key);
  expect(value).toBeDefined();
  const batch = db.batch();
  batch.put(key, change(Uint8Array.from(value ?? [])));
  await batch.write({ sync: true });
  await db.close();
}

function flipLast(value: Uint8Array): Uint8Array {
  value[value.byteLength - 1] = (value[value.byteLength - 1] ?? 0) ^ 0x01;
  return value;
}

describe('LevelStateStore apply', () => {
  it('LevelStateStore.open creates an empty state in a new directory', async () => {
    const store = await openStore();
    expect(store.appliedIndex()).toBe(0);
    expect(store.appliedTerm()).toBe(0);
    expect(await countKeys(store)).toBe(0);
    expect(await store.list('')).toEqual({ keys: [], cursor: undefined });
    expect(await readdir(join(root, 'state'))).toEqual(['CURRENT', 'state-000000000001']);
  });

  it('LevelStateStore.apply writes puts and deletes, with the entry index as the version', async () => {
    const store = await openStore();
    const results = await store.apply([
      entry(1, put('a', 'one')),
      entry(2, put('b', 'two'), 2),
      entry(3, { kind: 'delete', key: 'a' }, 2),
      entry(4, put('b', 'three'), 2),
      entry(5, { kind: 'delete', key: 'never-there' }, 2),
    ]);
    expect(results.every((r) => r.ok && r.outcome === 'applied')).toBe(true);
    expect(store.get('a')).toBeUndefined();
    expect(store.get('b')).toEqual({ version: 4, value: text.encode('three') });
    expect(store.appliedIndex()).toBe(5);
    expect(store.appliedTerm()).toBe(2);
    expect(await countKeys(store)).toBe(1);
  });

  it('LevelStateStore.apply skips entries at or below the applied index, so replay is idempotent', async () => {
    const store = await openStore();
    const log = [1, 2, 3, 4, 5, 6, 7].map((i) => entry(i, put(`k${i % 3}`, `v${i}`)));
    await store.apply(log.slice(0, 5));
    const hashAfterFive = await store.stateHash();
    const replay = await store.apply(log.slice(0, 5));
    expect(replay.every((r) => r.ok && r.outcome === 'skipped')).toBe(true);
    expect(await store.stateHash()).toBe(hashAfterFive);
    const results = await store.apply(log);
    expect(results.map((r) => (r.ok ? r.outcome : r.code))).toEqual([
      ...Array<string>(5).fill('skipped'),
      'applied',
      'applied',
    ]);
    expect(store.appliedIndex()).toBe(7);
    expect(read(store, 'k1')).toBe('v7');
  });

  it('LevelStateStore.apply refuses a gap, a term going back or a late replay, writing nothing', async () => {
    const store = await openStore();
    await store.apply([entry(1, put('a', '1'), 3)]);
    const before = await store.stateHash();
    const refusals = [
      [entry(3, put('a', 'gap'), 3)],
      [entry(2, put('a', 'old term'), 2)],
      [entry(2, put('a', 'x'), 3), entry(1, put('a', 'replayed late'), 3)],
      [entry(2, put('a', 'x'), 3), entry(4, put('a', 'gap inside'), 3)],
    ];
    for (const entries of refusals) {
      await expect(store.apply(entries)).rejects.toMatchObject({
        code: StorageErrorCode.invalidWrite,
      });
    }
    expect(store.appliedIndex()).toBe(1);
    expect(await store.stateHash()).toBe(before);
  });

  it('LevelStateStore.apply applies malformed and empty entries as no-ops that advance the index', async () => {
    const store = await openStore();
    const results = await store.apply([
      entry(1, Uint8Array.of(1, 9, 9)),
      entry(2, new Uint8Array(0)),
      entry(3, put('a', 'x')),
    ]);
    expect(results[0]).toMatchObject({ ok: false, code: StorageErrorCode.malformedCommand });
    expect(results[0]?.ok === false && results[0].message).toMatch(/command kind 9 is unknown/);
    expect(results[1]).toEqual({ ok: true, outcome: 'empty' });
    expect(results[2]).toEqual({ ok: true, outcome: 'applied' });
    expect(store.appliedIndex()).toBe(3);
    expect(await countKeys(store)).toBe(1);
  });

  it('LevelStateStore.apply keeps transactions all-or-nothing', async () => {
    const store = await openStore();
    await store.apply([entry(1, put('a', 'a1')), entry(2, put('b', 'b1'))]);
    const failing: StateCommand = {
      kind: 'transaction',
      conditions: [
        { kind: 'version', key: 'a', version: 1 },
        { kind: 'absent', key: 'b' },
      ],
      operations: [put('a', 'a2') as never, { kind: 'delete', key: 'b' }, put('c', 'c1') as never],
    };
    const [result] = await store.apply([entry(3, failing)]);
    expect(result).toMatchObject({
      ok: false,
      code: StorageErrorCode.casFailed,
      conditionIndex: 1,
      key: 'b',
      actualVersion: 2,
    });
    expect([read(store, 'a'), read(store, 'b'), read(store, 'c')]).toEqual(['a1', 'b1', undefined]);
    expect(store.appliedIndex()).toBe(3);
    const passing: StateCommand = {
      kind: 'transaction',
      conditions: [
        { kind: 'version', key: 'a', version: 1 },
        { kind: 'absent', key: 'c' },
      ],
      operations: [put('a', 'a2') as never, { kind: 'delete', key: 'b' }, put('a', 'a3') as never],
    };
    expect(await store.apply([entry(4, passing)])).toEqual([{ ok: true, outcome: 'applied' }]);
    expect(store.get('a')).toEqual({ version: 4, value: text.encode('a3') });
    expect(store.get('b')).toBeUndefined();
    expect(await countKeys(store)).toBe(1);
  });

  it('LevelStateStore.apply checks conditions against earlier entries of the same batch', async () => {
    const store = await openStore();
    const cas = (version: number): StateCommand => ({
      kind: 'transaction',
      conditions: [{ kind: 'version', key: 'k', version }],
      operations: [put('k', `at ${version}`) as never],
    });
    const results = await store.apply([
      entry(1, {
        kind: 'transaction',
        conditions: [{ kind: 'absent', key: 'k' }],
        operations: [put('k', 'new') as never],
      }),
      entry(2, cas(1)),
      entry(3, cas(1)),
      entry(4, cas(2)),
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, true, false, true]);
    expect(results[2]).toMatchObject({ conditionIndex: 0, actualVersion: 2 });
    expect(store.get('k')?.version).toBe(4);
  });

  it('LevelStateStore.durableIndex follows synced applies and flush', async () => {
    const store = await openStore({ syncApply: false });
    await store.apply([entry(1, put('a', '1'))], { sync: true });
    await store.apply([entry(2, put('b', '2')), entry(3, put('c', '3'))]);
    expect([store.appliedIndex(), store.durableIndex()]).toEqual([3, 1]);
    await store.flush();
    expect(store.durableIndex()).toBe(3);
  });

  it('LevelStateStore keeps applied state across a reopen, synced or not', async () => {
    let store = await openStore();
    await store.apply([entry(1, put('a', '1')), entry(2, put('b', '2'))], { sync: true });
    await store.apply([entry(3, put('c', '3'))], { sync: false });
    const hash = await store.stateHash();
    await store.close();
    store = await openStore();
    expect(store.appliedIndex()).toBe(3);
    expect(await countKeys(store)).toBe(3);
    expect(await store.stateHash()).toBe(hash);
  });
});

describe('LevelStateStore reads', () => {
  it('LevelStateStore reads stay exact with the recent-values cache: writes, deletes, absent keys', async () => {
    const store = await openStore();
    // Cached as absent, then written: the read must see the write, not the cached absence.
    expect(store.get('k/a')).toBeUndefined();
    expect(store.versionOf('k/a')).toBeUndefined();
    await store.apply([entry(1, put('k/a', 'one'))], { sync: false });
    expect(read(store, 'k/a')).toBe('one');
    expect(store.versionOf('k/a')).toBe(1);
    await store.apply([entry(2, put('k/a', 'two'))], { sync: false });
    expect(read(store, 'k/a')).toBe('two');
    expect(store.versionOf('k/a')).toBe(2);
    await store.apply([entry(3, { kind: 'delete', key: 'k/a' })], { sync: false });
    expect(store.get('k/a')).toBeUndefined();
    // A failed condition writes nothing, and the cache keeps the truth.
    await store.apply(
      [
        entry(4, {
          kind: 'transaction',
          conditions: [{ kind: 'version', key: 'k/a', version: 2 }],
          operations: [{ kind: 'put', key: 'k/a', value: new TextEncoder().encode('no') }],
        }),
      ],
      { sync: false },
    );
    expect(store.get('k/a')).toBeUndefined();
    // A caller mutating what get() returned does not change what the next get() returns.
    await store.apply([entry(5, put('k/b', 'keep'))], { sync: false });
    const first = store.get('k/b');
    first?.value.fill(0);
    expect(read(store, 'k/b')).toBe('keep');
  });

  it('LevelStateStore.list pages through a prefix in key order with a cursor', async () => {
    const store = await openStore();
    const keys = Array.from({ length: 250 }, (_, i) => `app/${String(i).padStart(3, '0')}`);
    const others = ['apo', 'app', 'apq/1', 'app0', 'b'];
    const all = [...keys, ...others];
    await store.apply(all.map((key, i) => entry(i + 1, put(key, 'v'))));
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await store.list('app/', {
        limit: 100,
        ...(cursor === undefined ? {} : { after: cursor }),
      });
      pages.push([...page.keys]);
      cursor = page.cursor;
    } while (cursor !== undefined);
    expect(pages.map((p) => p.length)).toEqual([100, 100, 50]);
    expect(pages.flat()).toEqual(keys);
    expect((await store.list('', { limit: 1000 })).keys).toEqual([...all].sort());
    expect((await store.list('app/', { after: 'app/249' })).keys).toEqual([]);
    expect((await store.list('app/', { after: 'a', limit: 2 })).keys).toEqual([
      'app/000',
      'app/001',
    ]);
    expect((await store.list('zzz')).keys).toEqual([]);
  });

  it('LevelStateStore.list orders keys by code point and handles prefixes ending in U+FFFF', async () => {
    const store = await openStore();
    const keys = ['kv/z', 'kv/ü', 'kv/日本', 'kv/\u{1F600}', 'kv/\uffff', 'kv/\uffff/x', 'kw'];
    await store.apply(keys.map((key, i) => entry(i + 1, put(key, 'v'))));
    expect((await store.list('kv/')).keys).toEqual([
      'kv/z',
      'kv/ü',
      'kv/日本',
      'kv/\uffff',
      'kv/\uffff/x',
      'kv/\u{1F600}',
    ]);
    expect((await store.list('kv/\uffff')).keys).toEqual(['kv/\uffff', 'kv/\uffff/x']);
  });

  it('LevelStateStore.list refuses a limit outside 1..1000', async () => {
    const store = await openStore();
    for (const limit of [0, 1001, 1.5]) {
      await expect(store.list('', { limit })).rejects.toMatchObject({
        code: StorageErrorCode.invalidArgument,
      });
    }
  });

  it('LevelStateStore.get returns undefined for keys that cannot exist', async () => {
    const store = await openStore();
    expect(store.get('')).toBeUndefined();
    expect(store.get('x'.repeat(5000))).toBeUndefined();
  });
});

describe('LevelStateStore failures', () => {
  /** Makes every batch write reject with failure() once it returns an error. */
  function failingWrites(failure: () => Error | undefined): (db: StateDatabase) => StateDatabase {
    return (db) => ({
      location: db.location,
      getSync: (key) => db.getSync(key),
      scan: (range, options) => db.scan(range, options),
      snapshot: () => db.snapshot(),
      compactAll: () => db.compactAll(),
      close: () => db.close(),
      batch: () => {
        const batch = db.batch();
        return {
          put: (key, value) => {
            batch.put(key, value);
          },
          del: (key) => {
            batch.del(key);
          },
          write: (options) => {
            const error = failure();
            return error === undefined ? batch.write(options) : Promise.reject(error);
          },
        };
      },
    });
  }

  it('LevelStateStore stops for good after a failed write, and reopens with what was written', async () => {
    let store = await openStore();
    await store.apply([entry(1, put('a', '1'))]);
    await store.close();
    let failing = false;
    const wrapDatabase = failingWrites(() =>
      failing ? new Error('EIO: fsync failed') : undefined,
    );
    store = await openStore({ wrapDatabase });
    failing = true;
    await expect(store.apply([entry(2, put('b', '2'))])).rejects.toMatchObject({
      code: StorageErrorCode.writeFailed,
    });
    expect(() => store.get('a')).toThrow(
      expect.objectContaining({ code: StorageErrorCode.writeFailed }),
    );
    await expect(store.apply([entry(2, put('b', '2'))])).rejects.toMatchObject({
      code: StorageErrorCode.writeFailed,
    });
    await store.close().catch(() => undefined);
    failing = false;
    store = await openStore();
    expect(store.appliedIndex()).toBe(1);
    expect(read(store, 'a')).toBe('1');
  });

  it('LevelStateStore reports a full disk as COFFER_STORAGE_DISK_FULL', async () => {
    const full = Object.assign(new Error('IO error: 000003.log: No space left on device'), {
      code: 'LEVEL_IO_ERROR',
    });
    let failing = false;
    const store = await openStore({
      wrapDatabase: failingWrites(() => (failing ? full : undefined)),
    });
    failing = true;
    await expect(store.apply([entry(1, put('a', '1'))])).rejects.toMatchObject({
      code: StorageErrorCode.diskFull,
    });
  });

  it('LevelStateStore refuses every call once closed', async () => {
    const store = await openStore();
    await store.close();
    expect(() => store.appliedIndex()).toThrow(
      expect.objectContaining({ code: StorageErrorCode.notOpen }),
    );
    expect(() => store.get('a')).toThrow(
      expect.objectContaining({ code: StorageErrorCode.notOpen }),
    );
    await expect(store.apply([])).rejects.toMatchObject({ code: StorageErrorCode.notOpen });
    await expect(store.list('')).rejects.toMatchObject({ code: StorageErrorCode.notOpen });
    await store.close();
  });

  it('LevelStateStore.open fails with COFFER_STORAGE_LOCKED while another store holds the directory', async () => {
    await openStore();
    await expect(LevelStateStore.open(join(root, 'state'))).rejects.toMatchObject({
      code: StorageErrorCode.locked,
    });
  });
});

describe('LevelStateStore integrity', () => {
  it('a flipped bit in a stored value gives COFFER_STORAGE_CORRUPT_RECORD naming the key, on every read path', async () => {
    let store = await openStore();
    await store.apply([entry(1, put('secret/a', 'value-a')), entry(2, put('secret/b', 'value-b'))]);
    await store.close();
    await tamper(dataKey(text.encode('secret/b')), flipLast);
    store = await openStore();
    const corrupt: unknown = expect.objectContaining({
      code: StorageErrorCode.corruptRecord,
      message: expect.stringContaining('"secret/b"') as unknown,
    });
    expect(read(store, 'secret/a')).toBe('value-a');
    expect(() => store.get('secret/b')).toThrow(corrupt);
    await expect(store.list('secret/')).rejects.toEqual(corrupt);
    await expect(store.stateHash()).rejects.toEqual(corrupt);
    // A condition reads the stored value (plain puts and deletes write blind).
    const cas: StateCommand = {
      kind: 'transaction',
      conditions: [{ kind: 'version', key: 'secret/b', version: 2 }],
      operations: [{ kind: 'delete', key: 'secret/b' }],
    };
    await expect(store.apply([entry(3, cas)])).rejects.toEqual(corrupt);
    expect(store.appliedIndex()).toBe(2);
    const snapshot = await store.snapshot({
      key: new Uint8Array(32),
      membership: new Uint8Array(0),
      keyringTerm: 1,
    });
    await expect(collect(snapshot.chunks)).rejects.toEqual(corrupt);
  });

  it('a corrupted or unknown state record refuses to open', async () => {
    const store = await openStore();
    await store.apply([entry(1, put('a', '1'))]);
    await store.close();
    await tamper(stateRecordKey, flipLast);
    await expect(LevelStateStore.open(join(root, 'state'))).rejects.toMatchObject({
      code: StorageErrorCode.corruptRecord,
      message: expect.stringContaining('<state record>') as unknown,
    });
    await tamper(stateRecordKey, (value) => {
      // A well-formed record of an unknown format: version 9, resealed with a CRC that holds.
      value[0] = 9;
      const end = value.byteLength - 4;
      const crc = crc32(value.subarray(0, end), crc32(stateRecordKey));
      new DataView(value.buffer).setUint32(end, crc, true);
      return value;
    });
    await expect(LevelStateStore.open(join(root, 'state'))).rejects.toMatchObject({
      code: StorageErrorCode.formatUnsupported,
    });
  });

  it('a damaged or missing CURRENT file refuses to open', async () => {
    const store = await openStore();
    await store.close();
    const pointer = join(root, 'state', 'CURRENT');
    const good = await readFile(pointer, 'utf8');
    await writeFile(pointer, good.replace('000001', '000002'));
    await expect(LevelStateStore.open(join(root, 'state'))).rejects.toMatchObject({
      code: StorageErrorCode.corruptRecord,
    });
    await rm(pointer);
    await expect(LevelStateStore.open(join(root, 'state'))).rejects.toMatchObject({
      code: StorageErrorCode.corruptRecord,
      message: expect.stringContaining('no CURRENT file') as unknown,
    });
    await writeFile(pointer, good);
    await openStore();
  });

  it('LevelStateStore.open deletes staging generations and a half-written pointer', async () => {
    const store = await openStore();
    await store.close();
    await mkdir(join(root, 'state', 'state-000000000009'));
    await writeFile(join(root, 'state', 'state-000000000009', 'junk'), 'x');
    await writeFile(join(root, 'state', 'CURRENT.tmp'), 'half');
    await writeFile(join(root, 'state', 'operator-notes.txt'), 'kept');
    await openStore();
    expect((await readdir(join(root, 'state'))).sort()).toEqual([
      'CURRENT',
      'operator-notes.txt',
      'state-000000000001',
    ]);
  });
});
