/**
 * Goal: the address, CA and token are found where PRODUCT.md says, in its order (token:
 * --token-file, COFFER_TOKEN, then the login file), the login file is refused when group or
 * others can read it, and the login file is written 0600 atomically.
 * Method: real files with chosen modes in a mkdtemp home directory.
 */
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  defaultAddress,
  resolveAddress,
  resolveCaCert,
  resolveClientOptions,
  resolveToken,
} from './client_settings.ts';
import { loginTokenPath, maybeReadLoginToken, writeLoginToken } from './token_file.ts';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'coffer-cli-settings-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('resolveAddress and resolveCaCert', () => {
  it('resolveAddress takes --address, then COFFER_ADDR, then the default', () => {
    expect(resolveAddress({ address: 'https://a:1' }, { COFFER_ADDR: 'https://b:2' })).toBe(
      'https://a:1',
    );
    expect(resolveAddress({}, { COFFER_ADDR: 'https://b:2' })).toBe('https://b:2');
    expect(resolveAddress({}, { COFFER_ADDR: ' ' })).toBe(defaultAddress);
  });

  it('resolveCaCert reads --ca-cert before COFFER_CACERT and refuses when neither is set', async () => {
    const a = join(home, 'a.pem');
    await writeFile(a, 'A');
    const b = join(home, 'b.pem');
    await writeFile(b, 'B');
    expect((await resolveCaCert({ caCert: a }, { COFFER_CACERT: b })).toString()).toBe('A');
    expect((await resolveCaCert({}, { COFFER_CACERT: b })).toString()).toBe('B');
    await expect(resolveCaCert({}, {})).rejects.toMatchObject({
      code: 'COFFER_CLI_CA_CERT_MISSING',
    });
    await expect(resolveCaCert({ caCert: join(home, 'none.pem') }, {})).rejects.toMatchObject({
      code: 'COFFER_CLI_FILE_UNREADABLE',
      message: expect.stringContaining('ENOENT') as unknown,
    });
  });
});

describe('resolveToken', () => {
  it('resolveToken prefers --token-file, then COFFER_TOKEN, then the login file', async () => {
    const explicit = join(home, 'explicit');
    await writeFile(explicit, 'from-option\n');
    await writeLoginToken(loginTokenPath(home), 'from-login');
    const env = { COFFER_TOKEN: 'from-env' };
    expect(await resolveToken({ tokenFile: explicit }, { env, homeDirectory: home })).toBe(
      'from-option',
    );
    expect(await resolveToken({}, { env, homeDirectory: home })).toBe('from-env');
    expect(await resolveToken({}, { env: {}, homeDirectory: home })).toBe('from-login');
    await rm(loginTokenPath(home));
    expect(await resolveToken({}, { env: {}, homeDirectory: home })).toBeUndefined();
  });

  it('resolveToken refuses a login file readable by group or others, without its content', async () => {
    const path = loginTokenPath(home);
    await writeFile(path, 'canary-token-5d1e\n');
    for (const mode of [0o640, 0o604, 0o644]) {
      await chmod(path, mode);
      const error: unknown = await maybeReadLoginToken(path).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'COFFER_CLI_TOKEN_FILE_INSECURE' });
      expect((error as Error).message).toContain('chmod 600');
      expect((error as Error).message).not.toContain('canary');
    }
    await chmod(path, 0o600);
    expect(await maybeReadLoginToken(path)).toBe('canary-token-5d1e');
  });

  it('resolveToken names an unreadable --token-file', async () => {
    await expect(
      resolveToken({ tokenFile: join(home, 'absent') }, { env: {}, homeDirectory: home }),
    ).rejects.toMatchObject({ code: 'COFFER_CLI_FILE_UNREADABLE' });
  });

  it('resolveClientOptions sends no token when asked not to, even with an insecure file', async () => {
    const ca = join(home, 'ca.pem');
    await writeFile(ca, 'CA');
    await writeFile(loginTokenPath(home), 't', { mode: 0o644 });
    await chmod(loginTokenPath(home), 0o644);
    const options = await resolveClientOptions(
      {},
      { env: { COFFER_CACERT: ca }, homeDirectory: home },
      false,
    );
    expect(options).toEqual({ address: defaultAddress, caCert: Buffer.from('CA') });
  });
});

describe('resolveClientOptions', () => {
  it('resolveClientOptions refuses to go on without a token when one is needed', async () => {
    const ca = join(home, 'ca.pem');
    await writeFile(ca, 'CA');
    const context = { env: { COFFER_CACERT: ca }, homeDirectory: home };
    await expect(resolveClientOptions({}, context)).rejects.toMatchObject({
      code: 'COFFER_CLI_TOKEN_MISSING',
    });
    const empty = join(home, 'empty');
    await writeFile(empty, ' \n');
    await expect(resolveClientOptions({ tokenFile: empty }, context)).rejects.toMatchObject({
      code: 'COFFER_CLI_TOKEN_MISSING',
    });
    await writeFile(loginTokenPath(home), '', { mode: 0o600 });
    await expect(resolveClientOptions({}, context)).rejects.toMatchObject({
      code: 'COFFER_CLI_TOKEN_MISSING',
    });
    expect(await resolveClientOptions({}, context, false)).not.toHaveProperty('token');
  });
});

describe('writeLoginToken', () => {
  it('writeLoginToken writes mode 0600 through a renamed temporary file', async () => {
    const path = loginTokenPath(home);
    await writeFile(path, 'old', { mode: 0o644 });
    await chmod(path, 0o644);
    await writeLoginToken(path, 'new-token');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readFile(path, 'utf8')).toBe('new-token\n');
    expect(await readdir(home)).toEqual(['.coffer-token']);
  });

  it('writeLoginToken leaves no temporary file when it cannot write', async () => {
    const path = join(home, 'missing-dir', '.coffer-token');
    await expect(writeLoginToken(path, 'x')).rejects.toMatchObject({
      code: 'COFFER_CLI_TOKEN_FILE_WRITE_FAILED',
    });
    expect(await readdir(home)).toEqual([]);
  });
});
