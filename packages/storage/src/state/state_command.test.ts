/**
 * Goal: the state command codec round-trips every command, refuses to encode what breaks a
 * limit, and decodes any bytes at all without throwing: what is not a command gives a reason.
 * Method: table tests of each kind and limit; every truncation of valid encodings; seeded
 * fuzzing of random bytes and of single-byte mutations of valid encodings, re-encoding
 * whatever decodes to check it is canonical. No I/O.
 */
import { SeededRandom } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import { StorageErrorCode } from '../errors.ts';
import { randomCommand, StateModel } from './random_commands.ts';
import {
  decodeStateCommand,
  encodeStateCommand,
  prefixedStateKeyBytes,
  stateKeyBytesMax,
  stateValueBytesMax,
  transactionOperationsMax,
  validStateKeyBytes,
  type StateCommand,
} from './state_command.ts';
import { dataKey, dataPrefix } from './state_keys.ts';

const value = Uint8Array.of(1, 2, 3);
const examples: StateCommand[] = [
  { kind: 'put', key: 'secret/data/a', value },
  { kind: 'put', key: 'k', value: new Uint8Array(0) },
  { kind: 'delete', key: 'kv/日本/ü' },
  { kind: 'transaction', conditions: [], operations: [] },
  {
    kind: 'transaction',
    conditions: [
      { kind: 'absent', key: 'a' },
      { kind: 'version', key: 'b', version: 2 ** 53 - 1 },
    ],
    operations: [
      { kind: 'put', key: 'a', value },
      { kind: 'delete', key: 'b' },
    ],
  },
];

function expectInvalid(command: StateCommand): void {
  expect(() => encodeStateCommand(command)).toThrow(
    expect.objectContaining({ code: StorageErrorCode.invalidArgument }),
  );
}

// Real disk and thousands of cases: generous bounds for a loaded CI machine.
describe('state command codec', { timeout: 30_000 }, () => {
  it('decodeStateCommand returns what encodeStateCommand encoded, for every kind', () => {
    for (const command of examples) {
      const decoded = decodeStateCommand(encodeStateCommand(command));
      expect(decoded).toEqual({ ok: true, command });
    }
  });

  it('encodeStateCommand refuses keys and values that break a limit', () => {
    expectInvalid({ kind: 'put', key: '', value });
    expectInvalid({ kind: 'delete', key: 'x'.repeat(stateKeyBytesMax + 1) });
    // 2,000 three-byte characters: under the limit in characters, over it in bytes.
    expectInvalid({ kind: 'delete', key: '日'.repeat(2000) });
    expectInvalid({ kind: 'delete', key: 'lone \ud800 surrogate' });
    expectInvalid({ kind: 'put', key: 'k', value: new Uint8Array(stateValueBytesMax + 1) });
    expect(() =>
      encodeStateCommand({ kind: 'put', key: 'x'.repeat(stateKeyBytesMax), value }),
    ).not.toThrow();
  });

  it('encodeStateCommand refuses transactions that break a limit', () => {
    const operations = Array.from({ length: transactionOperationsMax + 1 }, () => ({
      kind: 'delete' as const,
      key: 'k',
    }));
    expectInvalid({ kind: 'transaction', conditions: [], operations });
    expectInvalid({
      kind: 'transaction',
      conditions: [{ kind: 'version', key: 'k', version: 0 }],
      operations: [],
    });
    expectInvalid({
      kind: 'transaction',
      conditions: [{ kind: 'version', key: 'k', version: 1.5 }],
      operations: [],
    });
  });

  it('decodeStateCommand gives a reason for every truncation of a valid command', () => {
    for (const command of examples) {
      const bytes = encodeStateCommand(command);
      for (let length = 0; length < bytes.byteLength; length++) {
        const decoded = decodeStateCommand(bytes.subarray(0, length));
        expect(decoded.ok, `${command.kind} cut to ${length} bytes`).toBe(false);
      }
    }
  });

  it('decodeStateCommand names what is wrong with malformed commands', () => {
    const cases: [number[], RegExp][] = [
      [[], /codec version runs past the end/],
      [[2, 1], /codec version 2/],
      [[1, 9], /command kind 9/],
      [[1, 2, 0, 0], /key length 0/],
      [[1, 2, 0, 1, 0xff], /not valid UTF-8/],
      [[1, 2, 0, 1, 0x61, 0], /1 trailing bytes/],
      [[1, 1, 0, 1, 0x61, 0x00, 0x10, 0x00, 0x01], /value length 1048577/],
      [[1, 3, 0x04, 0x01], /condition count 1025/],
      [[1, 3, 0, 1, 7, 0, 1, 0x61], /condition 0 has unknown kind 7/],
      [[1, 3, 0, 1, 2, 0, 1, 0x61, 0, 0, 0, 0, 0, 0, 0, 0], /condition 0 version is 0/],
      [[1, 3, 0, 1, 2, 0, 1, 0x61, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], /2\^53/],
      [[1, 3, 0, 0, 0, 1, 3, 0, 1, 0x61], /operation 0 has unknown kind 3/],
    ];
    for (const [bytes, reason] of cases) {
      const decoded = decodeStateCommand(Uint8Array.from(bytes));
      expect(decoded.ok).toBe(false);
      expect(decoded.ok ? '' : decoded.reason).toMatch(reason);
    }
  });

  it('decodeStateCommand never throws on random bytes and re-encodes what it accepts', () => {
    const random = new SeededRandom(0x5eed);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const length = random.int(40);
      const bytes = Uint8Array.from({ length }, () => random.int(256));
      // Bias towards the real header so that the decoder gets past its first bytes, and
      // sometimes towards a whole delete of an ASCII key, which then decodes.
      if (length >= 2 && random.chance(0.7)) {
        bytes[0] = 1;
        bytes[1] = 1 + random.int(3);
      }
      if (length >= 5 && random.chance(0.2)) {
        bytes.set([1, 2, 0, length - 4]);
        bytes.forEach((byte, at) => (bytes[at] = at < 4 ? byte : byte & 0x7f));
      }
      const decoded = decodeStateCommand(bytes);
      if (decoded.ok) {
        accepted++;
        expect(encodeStateCommand(decoded.command)).toEqual(bytes);
      }
    }
    expect(accepted).toBeGreaterThan(0);
  });

  it('decodeStateCommand never throws on mutations of valid commands', () => {
    const random = new SeededRandom(77);
    const model = new StateModel();
    for (let i = 0; i < 3_000; i++) {
      const bytes = encodeStateCommand(randomCommand(random, model));
      const mutated = bytes.slice();
      const at = random.int(mutated.byteLength);
      mutated[at] = (mutated[at] ?? 0) ^ (1 + random.int(255));
      const decoded = decodeStateCommand(mutated);
      if (decoded.ok) {
        expect(encodeStateCommand(decoded.command)).toEqual(mutated);
      }
    }
  });
});

describe('prefixedStateKeyBytes', () => {
  it('prefixedStateKeyBytes gives the bytes and verdict of dataKey(validStateKeyBytes) for any key', () => {
    const keys = [
      '',
      'a',
      'secret/data/a',
      '\u0000\u007f',
      'x'.repeat(stateKeyBytesMax),
      'x'.repeat(stateKeyBytesMax + 1),
      'ü',
      'kv/日本/ü',
      'abc\u{1F600}',
      'lone \ud800 surrogate',
      'ascii then lone \udfff',
      `${'x'.repeat(stateKeyBytesMax - 1)}ü`,
      `${'x'.repeat(stateKeyBytesMax - 2)}ü`,
    ];
    for (const key of keys) {
      const bytes = validStateKeyBytes(key);
      const expected = bytes === undefined ? undefined : dataKey(bytes);
      expect(prefixedStateKeyBytes(dataPrefix, key)).toEqual(expected);
    }
  });
});
