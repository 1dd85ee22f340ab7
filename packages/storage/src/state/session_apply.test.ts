/**
 * Goal: client sessions in LevelStateStore apply every request exactly once and answer a retry
 * with the original result, whatever the batch split, across a reopen and across a snapshot
 * and restore; they refuse what the session rules refuse, expire by leader stamps only, and
 * treat malformed envelopes as deterministic no-ops.
 * Method: real LevelDB in a temporary directory per test; entries built with the public
 * envelope codec; stamps are plain numbers (no clock, no sleeps). Replicas compare stateHash.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { asIndex, asTerm } from '@coffer/raft';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { StorageErrorCode } from '../errors.ts';
import { decodeApplyResult, encodeApplyResult, type ApplyResult } from './apply_result.ts';
import { LevelStateStore, type LevelStateStoreOptions } from './level_state_store.ts';
import {
  decodeEntryData,
  encodeSessionRegister,
  encodeSessionRequest,
  sessionEnvelopeTag,
} from './session_envelope.ts';
import { frameHeaderBytes } from './snapshot_format.ts';
import { verifySnapshot } from './snapshot_reader.ts';
import { collect, frameSpans, reseal } from './snapshot_test_support.ts';
import type { StateEntry } from './state_apply.ts';
import { encodeStateCommand, type StateCommand } from './state_command.ts';

let root: string;
const open: LevelStateStore[] = [];
let stores = 0;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-sessions-'));
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((store) => store.close().catch(() => undefined)));
  await rm(root, { recursive: true, force: true });
});

async function openStore(
  name = `state-${stores++}`,
  options?: LevelStateStoreOptions,
): Promise<LevelStateStore> {
  const store = await LevelStateStore.open(join(root, name), options);
  open.push(store);
  return store;
}

const text = new TextEncoder();
const snapshotKey = randomBytes(32);

function put(key: string, value: string): StateCommand {
  return { kind: 'put', key, value: text.encode(value) };
}

function createOnce(key: string): StateCommand {
  return {
    kind: 'transaction',
    conditions: [{ kind: 'absent', key }],
    operations: [{ kind: 'put', key, value: text.encode('first') }],
  };
}

function entry(index: number, data: Uint8Array): StateEntry {
  return { index: asIndex(index), term: asTerm(1), data };
}

function register(index: number, stampMs: number): StateEntry {
  return entry(index, encodeSessionRegister(stampMs));
}

function request(
  index: number,
  fields: { clientId: number; sequence: number; ackedBelow?: number; stampMs: number },
  command: StateCommand,
): StateEntry {
  const data = encodeSessionRequest({ ackedBelow: 0, ...fields, command });
  return entry(index, data);
}

/** A result as the StateMachine port sees it: its bytes, decoded again. */
function wire(result: ApplyResult | undefined): ApplyResult | undefined {
  return result === undefined ? undefined : decodeApplyResult(encodeApplyResult(result));
}

const applied = { ok: true, outcome: 'applied' };

describe('LevelStateStore sessions', { timeout: 30_000 }, () => {
  it('LevelStateStore.apply registers a client under the index of its register entry', async () => {
    const store = await openStore();
    const results = await store.apply([register(1, 1000), register(2, 1001)]);
    expect(results).toEqual([
      { ok: true, outcome: 'registered', clientId: 1 },
      { ok: true, outcome: 'registered', clientId: 2 },
    ]);
    expect(store.sessionStatus()).toEqual({ clockMs: 1001, count: 2 });
  });

  it('LevelStateStore.apply answers a retried request from the session in a later batch', async () => {
    const store = await openStore();
    await store.apply([register(1, 1000)]);
    const first = await store.apply([
      request(2, { clientId: 1, sequence: 0, stampMs: 1001 }, createOnce('kv/a')),
    ]);
    expect(first).toEqual([applied]);
    const retry = await store.apply([
      request(3, { clientId: 1, sequence: 0, stampMs: 1002 }, createOnce('kv/a')),
    ]);
    expect(retry).toEqual([{ ...applied, repeated: true }]);
    expect(wire(retry[0])).toEqual(wire(first[0]));
    expect(store.get('kv/a')?.version).toBe(2);
  });

  it('LevelStateStore.apply answers a retried request from the session in the same batch', async () => {
    const store = await openStore();
    const results = await store.apply([
      register(1, 1000),
      request(2, { clientId: 1, sequence: 0, stampMs: 1001 }, createOnce('kv/a')),
      request(3, { clientId: 1, sequence: 0, stampMs: 1001 }, createOnce('kv/a')),
      request(4, { clientId: 1, sequence: 1, stampMs: 1001 }, createOnce('kv/a')),
    ]);
    expect(results[1]).toEqual(applied);
    expect(results[2]).toEqual({ ...applied, repeated: true });
    // A new sequence is a new request: applied, so its condition now fails.
    expect(results[3]).toMatchObject({ ok: false, code: StorageErrorCode.casFailed });
    expect(store.get('kv/a')?.version).toBe(2);
  });

  it('LevelStateStore.apply records a failed transaction and repeats the failure', async () => {
    const store = await openStore();
    await store.apply([entry(1, encodeStateCommand(put('kv/a', 'x'))), register(2, 1000)]);
    const first = await store.apply([
      request(3, { clientId: 2, sequence: 5, stampMs: 1000 }, createOnce('kv/a')),
    ]);
    await store.apply([entry(4, encodeStateCommand({ kind: 'delete', key: 'kv/a' }))]);
    const retry = await store.apply([
      request(5, { clientId: 2, sequence: 5, stampMs: 1000 }, createOnce('kv/a')),
    ]);
    expect(first[0]).toMatchObject({ ok: false, code: StorageErrorCode.casFailed });
    expect(retry).toEqual(first);
    expect(store.get('kv/a')).toBeUndefined();
  });

  it('LevelStateStore.apply drops acknowledged responses and refuses their sequence numbers', async () => {
    const store = await openStore();
    await store.apply([
      register(1, 1000),
      request(2, { clientId: 1, sequence: 0, stampMs: 1000 }, put('kv/a', '0')),
      request(3, { clientId: 1, sequence: 1, stampMs: 1000 }, put('kv/b', '1')),
    ]);
    const results = await store.apply([
      request(4, { clientId: 1, sequence: 2, ackedBelow: 2, stampMs: 1000 }, put('kv/c', '2')),
      request(5, { clientId: 1, sequence: 0, ackedBelow: 2, stampMs: 1000 }, put('kv/a', 'x')),
      request(6, { clientId: 1, sequence: 2, ackedBelow: 2, stampMs: 1000 }, put('kv/c', 'x')),
    ]);
    expect(results[0]).toEqual(applied);
    expect(results[1]).toMatchObject({
      ok: false,
      code: StorageErrorCode.responseDiscarded,
      clientId: 1,
      sequence: 0,
    });
    expect(results[2]).toEqual({ ...applied, repeated: true });
    expect(store.get('kv/a')?.version).toBe(2);
    expect(store.get('kv/c')?.version).toBe(4);
  });

  it('LevelStateStore.apply refuses a request beyond the outstanding responses limit', async () => {
    const store = await openStore(undefined, { sessionLimits: { responsesPerClientMax: 2 } });
    const results = await store.apply([
      register(1, 1000),
      request(2, { clientId: 1, sequence: 0, stampMs: 1000 }, put('kv/a', '0')),
      request(3, { clientId: 1, sequence: 1, stampMs: 1000 }, put('kv/b', '1')),
      request(4, { clientId: 1, sequence: 2, stampMs: 1000 }, put('kv/c', '2')),
      request(5, { clientId: 1, sequence: 2, ackedBelow: 1, stampMs: 1000 }, put('kv/c', '2')),
    ]);
    expect(results[3]).toMatchObject({ ok: false, code: StorageErrorCode.tooManyOutstanding });
    expect(results[4]).toEqual(applied);
    expect(store.get('kv/c')?.version).toBe(5);
  });

  it('LevelStateStore.apply expires sessions by leader stamps, lazily and by sweeping', async () => {
    const limits = { sessionTtlMs: 100, sweepSessionsMax: 1 };
    const store = await openStore(undefined, { sessionLimits: limits });
    await store.apply([register(1, 1000), register(2, 1000), register(3, 1000)]);
    // Client 3 stays in use; a stamp 101 ms later expires 1 and 2, one per sweep.
    const results = await store.apply([
      request(4, { clientId: 3, sequence: 0, stampMs: 1100 }, put('kv/a', '0')),
      request(5, { clientId: 3, sequence: 1, stampMs: 1101 }, put('kv/b', '1')),
    ]);
    expect(results).toEqual([applied, applied]);
    expect(store.sessionStatus()).toEqual({ clockMs: 1101, count: 2 });
    const expired = await store.apply([
      request(6, { clientId: 2, sequence: 0, stampMs: 1000 }, put('kv/c', '2')),
    ]);
    expect(expired[0]).toMatchObject({ ok: false, code: StorageErrorCode.sessionExpired });
    expect(store.get('kv/c')).toBeUndefined();
    expect(store.sessionStatus().count).toBe(1);
    // An unknown client is refused alike; an older stamp never moves the clock back.
    const unknown = await store.apply([
      request(7, { clientId: 99, sequence: 0, stampMs: 5 }, put('kv/c', '2')),
    ]);
    expect(unknown[0]).toMatchObject({ ok: false, code: StorageErrorCode.sessionExpired });
    expect(store.sessionStatus()).toEqual({ clockMs: 1101, count: 1 });
  });

  it('LevelStateStore keeps sessions across a reopen', async () => {
    const first = await openStore('state');
    await first.apply([
      register(1, 1000),
      request(2, { clientId: 1, sequence: 7, stampMs: 1000 }, createOnce('kv/a')),
    ]);
    const hash = await first.stateHash();
    await first.close();
    const reopened = await openStore('state');
    expect(await reopened.stateHash()).toBe(hash);
    const retry = await reopened.apply([
      request(3, { clientId: 1, sequence: 7, stampMs: 1000 }, createOnce('kv/a')),
    ]);
    expect(retry).toEqual([{ ...applied, repeated: true }]);
    expect(reopened.get('kv/a')?.version).toBe(2);
  });

  it('LevelStateStore.restore brings the sessions of a snapshot along', async () => {
    const source = await openStore();
    await source.apply([
      register(1, 1000),
      register(2, 1000),
      request(3, { clientId: 2, sequence: 0, stampMs: 1000 }, createOnce('kv/a')),
    ]);
    const snapshot = await source.snapshot({
      key: snapshotKey,
      membership: new Uint8Array(0),
      keyringTerm: 0,
      sections: [{ name: 'extra', data: Uint8Array.of(1, 2, 3) }],
    });
    const chunks = await collect(snapshot.chunks);
    const target = await openStore();
    const restored = await target.restore(chunks, { key: snapshotKey });
    expect([...restored.sections.keys()]).toEqual(['extra']);
    expect(restored.manifest.keyCount).toBe(1);
    expect(await target.stateHash()).toBe(await source.stateHash());
    expect(target.sessionStatus()).toEqual({ clockMs: 1000, count: 2 });
    const retry = await target.apply([
      request(4, { clientId: 2, sequence: 0, stampMs: 1000 }, createOnce('kv/a')),
    ]);
    expect(retry).toEqual([{ ...applied, repeated: true }]);
  });

  it('LevelStateStore.restore refuses a session section whose record fails its check', async () => {
    const source = await openStore();
    await source.apply([
      register(1, 1000),
      request(2, { clientId: 1, sequence: 0, stampMs: 1000 }, put('kv/a', 'x')),
    ]);
    const snapshot = await source.snapshot({
      key: snapshotKey,
      membership: new Uint8Array(0),
      keyringTerm: 0,
    });
    const stream = Buffer.concat(await collect(snapshot.chunks));
    const section = frameSpans(stream).find((span) => span.type === 2);
    expect(section).toBeDefined();
    // The last byte of the section is the CRC of the last session record; a forger with the
    // key re-seals every hash, so only the record's own check can catch it.
    const at = (section?.offset ?? 0) + frameHeaderBytes + (section?.bodyLength ?? 0) - 1;
    stream[at] = (stream[at] ?? 0) ^ 0x01;
    const forged = reseal(stream, snapshotKey);
    const corrupt = { code: StorageErrorCode.snapshotCorrupt };
    await expect(verifySnapshot([forged], { key: snapshotKey })).rejects.toMatchObject(corrupt);
    const target = await openStore();
    await target.apply([register(1, 5)]);
    const before = await target.stateHash();
    await expect(target.restore([forged], { key: snapshotKey })).rejects.toMatchObject(corrupt);
    expect(await target.stateHash()).toBe(before);
  });

  it('LevelStateStore.snapshot refuses a caller section under the reserved name', async () => {
    const store = await openStore();
    const snapshot = await store.snapshot({
      key: snapshotKey,
      membership: new Uint8Array(0),
      keyringTerm: 0,
      sections: [{ name: 'coffer.storage.sessions', data: Uint8Array.of(1) }],
    });
    await expect(collect(snapshot.chunks)).rejects.toMatchObject({
      code: StorageErrorCode.invalidArgument,
    });
  });

  it('replicas applying session entries in different batch splits end with the same state', async () => {
    const limits = { sessionTtlMs: 50, sweepSessionsMax: 2, responsesPerClientMax: 3 };
    const log: StateEntry[] = [];
    const clients: number[] = [];
    let stampMs = 1000;
    for (let index = 1; index <= 120; index++) {
      stampMs += index % 7;
      const clientId = clients[(index * 5) % Math.max(clients.length, 1)];
      if (index % 9 === 1 || clientId === undefined) {
        clients.push(index);
        log.push(register(index, stampMs));
      } else if (index % 11 === 0) {
        log.push(entry(index, Uint8Array.of(sessionEnvelopeTag, 1, 2)));
      } else {
        const sequence = index % 13;
        const fields = { clientId, sequence, ackedBelow: sequence % 4, stampMs };
        log.push(request(index, fields, createOnce(`kv/${index % 17}`)));
      }
    }
    const hashes: string[] = [];
    const answers: string[] = [];
    const kinds = new Set<string>();
    for (const split of [1, 4, 120]) {
      const store = await openStore(undefined, { sessionLimits: limits });
      const results: ApplyResult[] = [];
      for (let at = 0; at < log.length; at += split) {
        results.push(...(await store.apply(log.slice(at, at + split))));
      }
      for (const r of results) {
        kinds.add(
          r.ok ? `${r.outcome}${r.outcome !== 'registered' && r.repeated ? '*' : ''}` : r.code,
        );
      }
      hashes.push(await store.stateHash());
      answers.push(JSON.stringify(results.map((r) => [...encodeApplyResult(r)])));
    }
    expect(new Set(hashes).size).toBe(1);
    expect(new Set(answers).size).toBe(1);
    // The log exercises every session rule.
    expect([...kinds].sort()).toEqual(
      [
        'applied',
        'applied*',
        'registered',
        StorageErrorCode.casFailed,
        StorageErrorCode.malformedCommand,
        StorageErrorCode.responseDiscarded,
        StorageErrorCode.sessionExpired,
        StorageErrorCode.tooManyOutstanding,
      ].sort(),
    );
  });

  it('decodeEntryData reports malformed envelopes, which apply as the same no-op', async () => {
    const valid = encodeSessionRequest({
      clientId: 1,
      sequence: 0,
      ackedBelow: 0,
      stampMs: 1000,
      command: put('kv/a', 'x'),
    });
    const bad = [
      Uint8Array.of(sessionEnvelopeTag),
      Uint8Array.of(sessionEnvelopeTag, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0),
      Uint8Array.of(sessionEnvelopeTag, 1, 9, 0, 0, 0, 0, 0, 0, 0, 0),
      valid.slice(0, valid.byteLength - 1),
      Uint8Array.from([...encodeSessionRegister(5), 0]),
    ];
    for (const data of bad) {
      expect(decodeEntryData(data).ok).toBe(false);
    }
    const stores = [await openStore(), await openStore()];
    for (const store of stores) {
      await store.apply([register(1, 1000)]);
      const results = await store.apply(bad.map((data, i) => entry(i + 2, data)));
      for (const result of results) {
        expect(result).toMatchObject({ ok: false, code: StorageErrorCode.malformedCommand });
      }
      expect(store.get('kv/a')).toBeUndefined();
    }
    expect(await stores[0]?.stateHash()).toBe(await stores[1]?.stateHash());
  });

  it('decodeEntryData keeps decoding plain commands unchanged', () => {
    const command = put('kv/a', 'x');
    expect(decodeEntryData(encodeStateCommand(command))).toEqual({
      ok: true,
      kind: 'command',
      command,
    });
  });
});
