/**
 * Goal: `coffer login` reads the token (method token) or the secret_id (method approle) from
 * stdin or a file, never prints the token unless --print-token, and writes
 * `$HOME/.coffer-token` with mode 0600 atomically; later commands send the stored token.
 * Method: the command tree in-process against the client double, in a mkdtemp home directory.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createCliHarness, type CliHarness } from './testing/cli_harness.ts';

const issued = 'tok-canary-44aa';
const auth = {
  clientToken: issued,
  accessor: 'acc-1',
  policies: ['default', 'app'],
  tokenPolicies: ['default', 'app'],
  metadata: { role_name: 'app' },
  leaseDurationSeconds: 3600,
  renewable: true,
  orphan: true,
  tokenType: 'service',
  numUses: 0,
};

let cli: CliHarness;
beforeEach(async () => {
  cli = await createCliHarness();
  cli.client.answer('auth.appRoleLogin', { auth });
});
afterEach(async () => {
  await cli.dispose();
});

async function storedToken(): Promise<{ text: string; mode: number }> {
  const path = join(cli.home, '.coffer-token');
  return { text: await readFile(path, 'utf8'), mode: (await stat(path)).mode & 0o777 };
}

describe('coffer login', () => {
  it('login --method approle reads the secret_id from stdin and stores the token 0600', async () => {
    const run = await cli.run(['login', '--method', 'approle', '--role-id', 'r-1'], {
      stdin: 'sid-secret\n',
    });
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('auth.appRoleLogin')[0]?.args).toEqual([
      { mount: 'approle', roleId: 'r-1', secretId: 'sid-secret' },
    ]);
    expect(await storedToken()).toEqual({ text: `${issued}\n`, mode: 0o600 });
    expect(await readdir(cli.home)).toEqual(['.coffer-token', 'ca.pem'].sort());
    expect(run.stdout + run.stderr).not.toContain(issued);
    expect(run.stdout + run.stderr).not.toContain('sid-secret');
    expect(run.stdout).toMatch(/token_accessor +acc-1/);
  });

  it('login stores the token that later commands send', async () => {
    await cli.run(['login', '--method', 'approle', '--role-id', 'r-1'], { stdin: 'sid' });
    await cli.run(['token', 'lookup']);
    expect(cli.client.opened.at(-1)?.token).toBe(issued);
  });

  it('login --method approle reads --secret-id-file and takes --path', async () => {
    const file = join(cli.home, 'sid');
    await writeFile(file, 'from-file\n');
    await cli.run([
      'login',
      '--method',
      'approle',
      '--role-id',
      'r',
      '--path',
      'ar',
      '--secret-id-file',
      file,
    ]);
    expect(cli.client.callsOf('auth.appRoleLogin')[0]?.args[0]).toEqual({
      mount: 'ar',
      roleId: 'r',
      secretId: 'from-file',
    });
  });

  it('login --method token verifies the token from stdin with a lookup and stores it', async () => {
    cli.client.answer('auth.tokenLookup', { data: { id: 'never-shown', accessor: 'acc-2' } });
    const run = await cli.run(['login', '--method', 'token', '--format', 'json'], {
      stdin: `${issued}\n`,
    });
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('auth.tokenLookup')[0]?.args).toEqual([undefined, { token: issued }]);
    expect((await storedToken()).text).toBe(`${issued}\n`);
    expect(run.stdout).not.toContain('never-shown');
    expect(run.stdout + run.stderr).not.toContain(issued);
  });

  it('login --print-token prints only the token and stores nothing', async () => {
    const run = await cli.run(['login', '--method', 'approle', '--role-id', 'r', '--print-token'], {
      stdin: 'sid',
    });
    expect(run.stdout).toBe(`${issued}\n`);
    expect(await readdir(cli.home)).toEqual(['ca.pem']);
  });

  it('login --no-store stores nothing and says so; the JSON has no token', async () => {
    const run = await cli.run(
      ['login', '--method', 'approle', '--role-id', 'r', '--no-store', '--format', 'json'],
      { stdin: 'sid' },
    );
    expect(await readdir(cli.home)).toEqual(['ca.pem']);
    expect(run.stderr).toContain('neither stored nor printed');
    const printed = JSON.parse(run.stdout) as { auth: Record<string, unknown> };
    expect(printed.auth).not.toHaveProperty('client_token');
    expect(printed.auth['accessor']).toBe('acc-1');
  });

  it('login --method approle needs --role-id; a bad method is a usage error', async () => {
    const run = await cli.run(['login', '--method', 'approle'], { stdin: 'sid' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--role-id');
    const bad = await cli.run(['login', '--method', 'ldap']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("argument 'ldap' is invalid");
  });
});
