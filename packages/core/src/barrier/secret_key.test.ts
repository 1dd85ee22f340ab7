/**
 * Goal: a SecretKey never shows its bytes (util.inspect, console, util.format, JSON, String,
 * template literals, errors) and zeroing really overwrites them (STYLE.md 4.5, 5.7).
 * Method: canary keys (recognizable ASCII, and random bytes) are formatted every way Node can
 * format a value; the output is searched for the key as text, hex, base64 and base64url.
 */
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { format, inspect } from 'node:util';

import { describe, expect, it } from 'vitest';

import { CoreError, CoreErrorCode } from '../errors.ts';
import { redactedMarker, SecretKey } from './secret_key.ts';

const canaryText = 'canary-key-material-0123456789ab';

/**
 * Every spelling of `bytes` that a leak could take. Checked against the output with whitespace
 * removed too, which covers Node's "<Buffer 63 61 ...>" and its aligned number columns.
 */
function spellings(bytes: Uint8Array): string[] {
  const buffer = Buffer.from(bytes);
  return [
    buffer.toString('latin1'),
    buffer.toString('hex'),
    buffer.toString('hex').toUpperCase(),
    buffer.toString('base64'),
    buffer.toString('base64url'),
    [...buffer.subarray(0, 8)].join(','),
  ];
}

function expectNoLeak(output: string, bytes: Uint8Array): void {
  const compacted = output.replace(/\s+/g, '');
  for (const spelling of spellings(bytes)) {
    expect(output).not.toContain(spelling);
    expect(compacted).not.toContain(spelling);
  }
}

/** Formats `value` through a real console writing into a string. */
function consoleOutput(value: unknown): string {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const console = new Console({ stdout: stream, stderr: stream });
  console.log(value);
  console.log('%s %o %O %j', value, value, value, value);
  console.error({ nested: { deeper: value } });
  console.dir(value, { showHidden: true, depth: 10 });
  console.table([{ key: value }]);
  return chunks.join('');
}

function everyFormatting(key: SecretKey): string {
  const holder = { key, list: [key], map: new Map([['k', key]]) };
  return [
    inspect(key),
    inspect(key, { showHidden: true, depth: Infinity, getters: true }),
    inspect(holder, { showHidden: true, depth: Infinity }),
    JSON.stringify(key),
    JSON.stringify(holder),
    String(key),
    // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- the point of the test
    `${key}`,
    format('%s %o %O %j %d', key, key, key, key, key),
    consoleOutput(key),
    consoleOutput(holder),
    Object.keys(key).join(','),
    JSON.stringify(Object.getOwnPropertyDescriptors(key)),
  ].join('\n');
}

describe('SecretKey', () => {
  it('SecretKey formatting never shows an ASCII canary key', () => {
    const key = SecretKey.fromBytes(Buffer.from(canaryText, 'latin1'));
    const output = everyFormatting(key);
    expect(output).toContain(redactedMarker);
    expect(output).not.toContain('canary');
    expectNoLeak(output, Buffer.from(canaryText, 'latin1'));
  });

  it('SecretKey formatting never shows a random key in any encoding', () => {
    for (let i = 0; i < 20; i++) {
      const key = SecretKey.generate();
      expectNoLeak(everyFormatting(key), key.reveal());
    }
  });

  it('the canary search finds a key that is not wrapped (control for the tests above)', () => {
    const raw = Buffer.from(canaryText, 'latin1');
    for (const output of [inspect(raw), JSON.stringify(raw), inspect(new Uint8Array(raw))]) {
      expect(() => {
        expectNoLeak(output, raw);
      }).toThrow();
    }
  });

  it('SecretKey exposes no own enumerable or reflectable field', () => {
    const key = SecretKey.generate();
    expect(Object.keys(key)).toEqual([]);
    expect(Reflect.ownKeys(key)).toEqual([]);
    // eslint-disable-next-line @typescript-eslint/no-misused-spread -- the point of the test
    expect({ ...key }).toEqual({});
  });

  it('SecretKey stays redacted inside an error message, cause and stack', () => {
    const key = SecretKey.fromBytes(Buffer.from(canaryText, 'latin1'));
    // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- the point of the test
    const error = new CoreError(CoreErrorCode.sealed, `Cannot use ${key}: failed`, {
      cause: { key },
    });
    const output = [error.message, error.stack ?? '', inspect(error, { depth: 10 })].join('\n');
    expect(output).not.toContain('canary');
    expectNoLeak(output, Buffer.from(canaryText, 'latin1'));
  });

  it('SecretKey.zero overwrites the live buffer and reveal then fails', () => {
    const key = SecretKey.generate();
    const live = key.reveal();
    expect(live.some((byte) => byte !== 0)).toBe(true);
    key.zero();
    expect(live.every((byte) => byte === 0)).toBe(true);
    expect(key.isZeroed).toBe(true);
    expect(() => key.reveal()).toThrow(/zeroed SecretKey/);
  });

  it('SecretKey.fromBytes copies, so zeroing the source leaves the key intact', () => {
    const source = Buffer.from(canaryText, 'latin1');
    const key = SecretKey.fromBytes(source);
    source.fill(0);
    expect(key.reveal().toString('latin1')).toBe(canaryText);
  });

  it('SecretKey.generate owns its memory rather than a slice of the shared pool', () => {
    const key = SecretKey.generate();
    expect(key.sizeBytes).toBe(32);
    expect(key.reveal().buffer.byteLength).toBe(32);
  });

  it('SecretKey.clone and equals compare bytes, and clones zero independently', () => {
    const key = SecretKey.generate();
    const copy = key.clone();
    expect(copy.equals(key)).toBe(true);
    expect(SecretKey.generate().equals(key)).toBe(false);
    copy.zero();
    expect(key.isZeroed).toBe(false);
    expect(key.reveal().some((byte) => byte !== 0)).toBe(true);
  });
});
