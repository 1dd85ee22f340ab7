/**
 * Goal: the record frame and bodies of the LevelDB log round-trip, keys sort in index order,
 * and every malformed value (truncated, extended, flipped, wrong version, wrong key, bad body)
 * gives COFFER_STORAGE_CORRUPT_RECORD naming the record (STYLE.md 5.8, 8.6); LevelDB errors are
 * classified by code, with ENOSPC also recognised in LevelDB's message text.
 * Method: pure calls on byte arrays; no database.
 */
import { asIndex, asNodeId, asTerm } from '@coffer/raft';
import { describe, expect, it } from 'vitest';

import { StorageErrorCode } from './errors.ts';
import { classifyLevelError, LevelFailure } from './level_adapter.ts';
import {
  decodeHardState,
  decodeLogState,
  decodeRecord,
  encodeHardState,
  encodeLogState,
  encodeRecord,
  runKey,
  hardStateKey,
  keyName,
  logStateKey,
  parseRunKey,
  parsePieceKey,
  pieceKey,
  type LogState,
} from './log_record.ts';

const state: LogState = {
  snapshot: {
    index: asIndex(10),
    term: asTerm(3),
    confState: { voters: [asNodeId(1), asNodeId(2)], learners: [asNodeId(7)] },
  },
  base: { index: asIndex(8), term: asTerm(2) },
  generation: 4,
  pieceCount: 2,
  sizeBytes: 1500,
};

function compare(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

function codeAndMessage(fn: () => unknown): { code: unknown; message: string } {
  try {
    fn();
  } catch (error) {
    const { code, message } = error as { code?: unknown; message: string };
    return { code, message };
  }
  return { code: undefined, message: '' };
}

function bigEndianFloats(...values: number[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(values.length * 8));
  values.forEach((value, i) => {
    view.setFloat64(i * 8, value);
  });
  return new Uint8Array(view.buffer);
}

const identity = (body: Uint8Array): Uint8Array => body;

describe('log record keys', () => {
  it('runKey sorts in index order across byte boundaries and past 2^32', () => {
    const indexes = [
      0,
      1,
      255,
      256,
      65535,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 40 + 5,
      Number.MAX_SAFE_INTEGER,
    ];
    const keys = indexes.map(runKey);
    expect([...keys].sort(compare)).toEqual(keys);
    expect(keys.map(parseRunKey)).toEqual(indexes);
  });

  it('pieceKey sorts by generation, then sequence', () => {
    const keys = [pieceKey(1, 0), pieceKey(1, 1), pieceKey(1, 256), pieceKey(2, 0)];
    expect([...keys].sort(compare)).toEqual(keys);
    expect(parsePieceKey(pieceKey(7, 3))).toEqual({ generation: 7, seq: 3 });
  });

  it('keyName names each kind of key and shows unknown ones in hex', () => {
    expect(
      [runKey(12), pieceKey(3, 0), hardStateKey, logStateKey, Uint8Array.of(9, 9)].map(keyName),
    ).toEqual(['entry-run/12', 'snapshot-piece/3/0', 'hard-state', 'log-state', 'unknown/0909']);
    expect(parseRunKey(pieceKey(1, 1))).toBeUndefined();
    expect(parsePieceKey(runKey(1))).toBeUndefined();
  });
});

describe('log record frame', () => {
  const key = runKey(5);
  const body = Uint8Array.of(1, 2, 3, 4, 5);
  const value = encodeRecord(key, body);

  it('decodeRecord returns the body that encodeRecord framed', () => {
    expect(decodeRecord({ key, value }, '/data', identity)).toEqual(body);
    expect(
      decodeRecord({ key, value: encodeRecord(key, new Uint8Array(0)) }, '/data', identity),
    ).toEqual(new Uint8Array(0));
  });

  const broken: readonly [string, Uint8Array | undefined][] = [
    ['a missing value', undefined],
    ['an empty value', new Uint8Array(0)],
    ['a value cut inside its header', value.subarray(0, 8)],
    ['a value cut inside its body', value.subarray(0, value.byteLength - 1)],
    ['a value with extra bytes', Uint8Array.of(...value, 0)],
    [
      'a flipped body bit',
      Uint8Array.from(value, (b, i) => (i === value.byteLength - 1 ? b ^ 0x80 : b)),
    ],
    ['a flipped checksum bit', Uint8Array.from(value, (b, i) => (i === 1 ? b ^ 0x01 : b))],
    ['an unknown frame version', Uint8Array.from(value, (b, i) => (i === 0 ? 9 : b))],
  ];
  for (const [what, bad] of broken) {
    it(`decodeRecord refuses ${what} with COFFER_STORAGE_CORRUPT_RECORD`, () => {
      const { code, message } = codeAndMessage(() =>
        decodeRecord({ key, value: bad }, '/data', identity),
      );
      expect(code).toBe(StorageErrorCode.corruptRecord);
      expect(message).toContain('"entry-run/5" in "/data"');
    });
  }

  it('decodeRecord refuses a value read under another key', () => {
    const { code } = codeAndMessage(() =>
      decodeRecord({ key: runKey(6), value }, '/data', identity),
    );
    expect(code).toBe(StorageErrorCode.corruptRecord);
  });
});

describe('log record bodies', () => {
  it('decodeHardState and decodeLogState return what was encoded', () => {
    const hard = { term: asTerm(4), vote: asNodeId(2), commit: asIndex(99) };
    expect(decodeHardState(encodeHardState(hard))).toEqual(hard);
    expect(decodeLogState(encodeLogState(state))).toEqual(state);
  });

  const bad: readonly [string, Uint8Array, Uint8Array][] = [
    [
      'a short hard state',
      hardStateKey,
      encodeHardState({ term: asTerm(1), vote: asNodeId(1), commit: asIndex(1) }).subarray(0, 20),
    ],
    ['a hard state with a fractional term', hardStateKey, bigEndianFloats(0.5, 0, 0)],
    ['a log state with trailing bytes', logStateKey, Uint8Array.of(...encodeLogState(state), 0)],
    [
      'a log state of an unknown layout',
      logStateKey,
      Uint8Array.from(encodeLogState(state), (b, i) => (i === 0 ? 2 : b)),
    ],
    [
      'a log state whose base passes its snapshot',
      logStateKey,
      encodeLogState({ ...state, base: { index: asIndex(11), term: asTerm(3) } }),
    ],
  ];
  for (const [what, key, body] of bad) {
    it(`decodeRecord refuses ${what} with COFFER_STORAGE_CORRUPT_RECORD`, () => {
      const decode: (body: Uint8Array) => unknown =
        key === hardStateKey ? decodeHardState : decodeLogState;
      const { code } = codeAndMessage(() =>
        decodeRecord({ key, value: encodeRecord(key, body) }, '/data', decode),
      );
      expect(code).toBe(StorageErrorCode.corruptRecord);
    });
  }
});

describe('classifyLevelError', () => {
  it('classifyLevelError finds a held lock in the cause of a failed open', () => {
    const error = Object.assign(new Error('Database failed to open'), {
      code: 'LEVEL_DATABASE_NOT_OPEN',
      cause: Object.assign(new Error('IO error: lock /x/LOCK: already held by process'), {
        code: 'LEVEL_LOCKED',
      }),
    });
    expect(classifyLevelError(error)).toBe(LevelFailure.locked);
  });

  it('classifyLevelError reads ENOSPC from a code or from LevelDB message text', () => {
    expect(classifyLevelError(Object.assign(new Error('no'), { code: 'ENOSPC' }))).toBe(
      LevelFailure.diskFull,
    );
    const leveldb = Object.assign(new Error('IO error: /x/000003.log: No space left on device'), {
      code: 'LEVEL_IO_ERROR',
    });
    expect(classifyLevelError(leveldb)).toBe(LevelFailure.diskFull);
  });

  it('classifyLevelError calls any other failure other', () => {
    expect(
      classifyLevelError(Object.assign(new Error('IO error: EIO'), { code: 'LEVEL_IO_ERROR' })),
    ).toBe(LevelFailure.other);
    expect(classifyLevelError('not an error')).toBe(LevelFailure.other);
  });
});
