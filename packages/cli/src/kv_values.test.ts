/**
 * Goal: `key=value` arguments parse as Vault's do (k=v, k=@file, k=- from stdin), duplicates,
 * a missing "=" or key and a second k=- are refused, and no error repeats the argument (which
 * may be a secret in the wrong shape).
 * Method: parseKeyValues on literal arguments, a file in a mkdtemp directory and a stream input
 * over a PassThrough.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseKeyValues, parseLiteralPairs } from './kv_values.ts';
import { createStreamInput } from './stream_input.ts';

function stdin(text: string) {
  const stream = new PassThrough();
  stream.end(text);
  return createStreamInput(stream, () => undefined);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-cli-values-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseKeyValues', () => {
  it('parseKeyValues reads literals, files and stdin', async () => {
    const file = join(dir, 'pw.txt');
    await writeFile(file, 'from-file\n');
    const data = await parseKeyValues(
      ['user=app', `password=@${file}`, 'token=-', 'eq=a=b', 'empty='],
      stdin('from-stdin'),
    );
    expect(data).toEqual({
      user: 'app',
      password: 'from-file\n',
      token: 'from-stdin',
      eq: 'a=b',
      empty: '',
    });
  });

  it('parseKeyValues keeps a lone "@" as a literal value', async () => {
    expect(await parseKeyValues(['at=@'], stdin(''))).toEqual({ at: '@' });
  });

  it('parseKeyValues refuses a duplicate key', async () => {
    await expect(parseKeyValues(['a=1', 'a=2'], stdin(''))).rejects.toMatchObject({
      code: 'COFFER_CLI_INVALID_ARGUMENT',
      message: expect.stringContaining('"a"') as unknown,
    });
  });

  it('parseKeyValues refuses an argument without "=" and does not repeat it', async () => {
    const canary = 'password:canary-7f3a';
    const error: unknown = await parseKeyValues(['a=1', canary], stdin('')).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'COFFER_CLI_INVALID_ARGUMENT' });
    expect((error as Error).message).toContain('argument 2');
    expect((error as Error).message).not.toContain('canary');
  });

  it('parseKeyValues refuses an empty key and two values from stdin', async () => {
    await expect(parseKeyValues(['=v'], stdin(''))).rejects.toMatchObject({
      code: 'COFFER_CLI_INVALID_ARGUMENT',
    });
    await expect(parseKeyValues(['a=-', 'b=-'], stdin('x'))).rejects.toMatchObject({
      code: 'COFFER_CLI_INVALID_ARGUMENT',
      message: expect.stringContaining('at most one') as unknown,
    });
  });

  it('parseKeyValues names the key and file of an unreadable @file', async () => {
    await expect(parseKeyValues([`k=@${join(dir, 'absent')}`], stdin(''))).rejects.toMatchObject({
      code: 'COFFER_CLI_FILE_UNREADABLE',
      message: expect.stringContaining('ENOENT') as unknown,
    });
  });

  it('parseKeyValues refuses an @file that is not UTF-8 instead of storing U+FFFD', async () => {
    const binary = join(dir, 'binary.key');
    await writeFile(binary, Buffer.from([0x30, 0x82, 0xff, 0xfe, 0x00]));
    await expect(parseKeyValues([`k=@${binary}`], stdin(''))).rejects.toMatchObject({
      code: 'COFFER_CLI_FILE_UNREADABLE',
      message: expect.stringMatching(/is not UTF-8/) as unknown,
    });
  });

  it('parseKeyValues checks every argument before reading stdin', async () => {
    const input = stdin('secret');
    await expect(parseKeyValues(['a=-', 'broken'], input)).rejects.toMatchObject({
      code: 'COFFER_CLI_INVALID_ARGUMENT',
    });
    expect(await input.readAll()).toBe('secret');
  });
});

describe('parseLiteralPairs', () => {
  it('parseLiteralPairs reads pairs and refuses duplicates and missing keys', () => {
    expect(parseLiteralPairs(['a=1', 'b=x=y'], '--metadata')).toEqual({ a: '1', b: 'x=y' });
    expect(() => parseLiteralPairs(['a=1', 'a=2'], '--metadata')).toThrow(/once/);
    expect(() => parseLiteralPairs(['=1'], '--metadata')).toThrow(/key=value/);
  });
});
