/**
 * Goal: the command tree as a whole: every PRODUCT.md command is there; unknown options and
 * commands give commander's clear error and exit 1 without a call; a server refusal prints
 * `Error: <message> (<code>)` and exits 2 (a local error exits 1); a canary secret given on
 * stdin, in a value, in the environment or in a token file never reaches stdout or stderr in
 * any error path; the generic and mount commands send the requests they name.
 * Method: the command tree in-process against the client double (testing/cli_harness.ts).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createCliHarness, type CliHarness } from './testing/cli_harness.ts';
import { clientError } from './testing/client_double.ts';

const canary = 'canary-secret-0b7e21';
const denied = clientError(
  'COFFER_CORE_PERMISSION_DENIED',
  'Ask for a token whose policy allows it',
);

let cli: CliHarness;
beforeEach(async () => {
  cli = await createCliHarness({ token: 'caller-token' });
});
afterEach(async () => {
  await cli.dispose();
});

describe('coffer program', () => {
  it('coffer --help lists the commands of PRODUCT.md', async () => {
    const run = await cli.run(['--help']);
    for (const name of [
      'server',
      'status',
      'operator',
      'kv',
      'policy',
      'token',
      'read',
      'write',
      'list',
      'delete',
      'login',
      'lease',
      'audit',
      'secrets',
      'auth',
    ]) {
      expect(run.stdout).toMatch(new RegExp(`\\n  ${name}\\b`));
    }
  });

  it('coffer refuses an unknown option or command with a clear error and exit 1', async () => {
    const option = await cli.run(['kv', 'get', '--colour', 'secret/a']);
    expect(option.code).toBe(1);
    expect(option.stderr).toBe("error: unknown option '--colour'\n");
    const command = await cli.run(['kv', 'gte', 'secret/a']);
    expect(command.code).toBe(1);
    expect(command.stderr).toContain("error: unknown command 'gte'");
    expect(command.stderr).toContain('(Did you mean get?)');
    const format = await cli.run(['status', '--format', 'xml']);
    expect(format.code).toBe(1);
    expect(format.stderr).toContain("argument 'xml' is invalid");
    expect(cli.client.calls).toEqual([]);
  });

  it('coffer exits 2 with the message and code of a server refusal, 1 for a local error', async () => {
    cli.client.answerAll({ error: denied });
    const remote = await cli.run(['read', 'sys/mounts']);
    expect(remote).toMatchObject({
      code: 2,
      stdout: '',
      stderr: 'Error: Ask for a token whose policy allows it (COFFER_CORE_PERMISSION_DENIED)\n',
    });
    const limited = clientError('COFFER_CORE_RATE_LIMITED', 'Slow down');
    cli.client.answer('logical.list', { error: Object.assign(limited, { retryAfterMs: 250 }) });
    const retry = await cli.run(['list', 'sys/policy']);
    expect(retry.stderr).toBe('Error: Slow down; retry after 250 ms (COFFER_CORE_RATE_LIMITED)\n');
    // A message that already says when to retry is not told twice.
    const said = clientError('COFFER_CORE_LOGIN_FAILED', 'Retry after 250 ms: login failed');
    cli.client.answer('logical.list', { error: Object.assign(said, { retryAfterMs: 250 }) });
    const once = await cli.run(['list', 'sys/policy']);
    expect(once.stderr).toBe(
      'Error: Retry after 250 ms: login failed (COFFER_CORE_LOGIN_FAILED)\n',
    );
    const local = await cli.run(['write', 'sys/x', 'novalue']);
    expect(local.code).toBe(1);
  });

  it('coffer never prints a canary secret in any error path', async () => {
    cli.client.answerAll({ error: denied });
    const env = { COFFER_TOKEN: canary };
    const runs = [
      await cli.run(['operator', 'unseal'], { stdin: canary, env }),
      await cli.run(['operator', 'unseal', canary], { env }),
      await cli.run(['operator', 'rekey'], { stdin: canary, env }),
      await cli.run(['operator', 'generate-root', '--nonce', 'n'], { stdin: canary, env }),
      await cli.run(['kv', 'put', 'secret/a', 'k=-'], { stdin: canary, env }),
      await cli.run(['kv', 'put', 'secret/a', `k:${canary}`], { env }),
      await cli.run(['kv', 'put', 'secret/a', `k=${canary}`, `k=${canary}`], { env }),
      await cli.run(['kv', 'get', '--field', 'x', 'secret/a'], { env }),
      await cli.run(['write', 'auth/approle/login', `secret_id=${canary}`], { env }),
      await cli.run(['login', '--method', 'approle', '--role-id', 'r'], { stdin: canary, env }),
      await cli.run(['login', '--method', 'token'], { stdin: canary }),
      await cli.run(['token', 'lookup', '-'], { stdin: canary, env }),
      await cli.run(['token', 'revoke', canary], { env }),
      await cli.run(['audit', 'hash', 'file'], { stdin: canary, env }),
      await cli.run(['policy', 'write', 'p', '-'], { stdin: canary, env }),
      await cli.run(['status'], { env }),
    ];
    await writeFile(join(cli.home, '.coffer-token'), canary, { mode: 0o644 });
    runs.push(await cli.run(['kv', 'get', 'secret/a'], { env: { COFFER_TOKEN: '' } }));
    runs.push(await cli.run(['kv', 'get', 'secret/a', '--token-file', join(cli.home, 'absent')]));
    for (const run of runs) {
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/\((COFFER_[A-Z_]+)\)\n$|^error: /);
      expect(run.stdout + run.stderr).not.toContain(canary);
    }
  });

  it('coffer read, write, list and delete reach any router path', async () => {
    cli.client.answer('logical.read', { data: { a: 1 } });
    const read = await cli.run(['read', '/sys/mounts', '--format', 'json']);
    expect(JSON.parse(read.stdout)).toMatchObject({ data: { a: 1 } });
    await cli.run(['write', 'auth/approle/role/app', 'token_policies=app', 'token_ttl=1h']);
    await cli.run(['list', 'auth/approle/role']);
    await cli.run(['delete', 'auth/approle/role/app']);
    expect(cli.client.calls.map((call) => [call.method, ...call.args])).toEqual([
      ['read', 'sys/mounts'],
      ['write', 'auth/approle/role/app', { token_policies: 'app', token_ttl: '1h' }],
      ['list', 'auth/approle/role'],
      ['delete', 'auth/approle/role/app'],
    ]);
  });

  it('coffer audit, secrets, auth and lease send the requests they name', async () => {
    await cli.run(['audit', 'enable', 'file', '--file-path', '/var/log/coffer/audit.log']);
    await cli.run(['secrets', 'enable', '--path', 'kv2', '--version', '2', 'kv']);
    await cli.run(['secrets', 'tune', 'kv2', '--max-lease-ttl', '2h']);
    await cli.run(['auth', 'enable', 'approle']);
    await cli.run(['lease', 'revoke', '--prefix', 'secret/']);
    cli.client.answer('audit.hash', { data: { hash: 'hmac-sha256:ab' } });
    const hash = await cli.run(['audit', 'hash', 'file'], { stdin: 'value\n' });
    expect(hash.stdout).toBe('hmac-sha256:ab\n');
    expect(
      cli.client.calls.map((call) => [`${call.service}.${call.method}`, call.args[0]]),
    ).toEqual([
      [
        'audit.enable',
        { path: 'file', type: 'file', options: { file_path: '/var/log/coffer/audit.log' } },
      ],
      ['mounts.enableSecrets', { path: 'kv2', type: 'kv', options: { version: '2' } }],
      ['mounts.tune', { path: 'kv2', maxLeaseTtl: '2h' }],
      ['mounts.enableAuth', { path: 'approle', type: 'approle' }],
      ['leases.revokePrefix', { prefix: 'secret/' }],
      ['audit.hash', { path: 'file', input: 'value' }],
    ]);
  });

  it('coffer refuses a command that needs a token when none is given, before any call', async () => {
    const none = { env: { COFFER_TOKEN: '' } };
    const emptyFile = join(cli.home, 'empty-token');
    await writeFile(emptyFile, '\n');
    const runs = [
      await cli.run(['kv', 'get', 'secret/a'], none),
      await cli.run(['write', 'auth/token/create', 'policies=app'], none),
      await cli.run(['token', 'lookup'], none),
      await cli.run(['operator', 'seal'], none),
      await cli.run(['kv', 'get', 'secret/a', '--token-file', emptyFile]),
    ];
    await writeFile(join(cli.home, '.coffer-token'), '', { mode: 0o600 });
    runs.push(await cli.run(['policy', 'list'], none));
    for (const run of runs) {
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^Error: Give a token: .* \(COFFER_CLI_TOKEN_MISSING\)\n$/);
      expect(run.stderr).toContain('--token-file');
      expect(run.stderr).toContain('coffer login');
      expect(run.stderr).toContain('COFFER_TOKEN');
    }
    expect(runs[4]?.stderr).toContain('empty-token');
    expect(cli.client.calls).toEqual([]);
    expect(cli.client.opened).toEqual([]);
  });

  it('coffer status, operator init and unseal, and login need no token', async () => {
    const none = { env: { COFFER_TOKEN: '' } };
    cli.client.answer('auth.tokenLookup', { data: { policies: ['default'] } });
    const runs = [
      await cli.run(['status'], none),
      await cli.run(['operator', 'init'], none),
      await cli.run(['operator', 'unseal'], { ...none, stdin: 'share\n' }),
      await cli.run(['login', '--no-store'], { ...none, stdin: 'tok\n' }),
    ];
    for (const run of runs) {
      expect(run.stderr).not.toContain('COFFER_CLI_TOKEN_MISSING');
    }
    expect(cli.client.calls.map((call) => `${call.service}.${call.method}`)).toEqual([
      'sys.sealStatus',
      'sys.init',
      'sys.unseal',
      'auth.tokenLookup',
    ]);
  });

  it('coffer auth enable says "an auth method"; disable does not say "if it existed"', async () => {
    const help = await cli.run(['auth', '--help']);
    expect(help.stdout).toContain('Enable an auth method');
    expect(help.stdout).not.toContain('Enable a auth method');
    const secretsHelp = await cli.run(['secrets', '--help']);
    expect(secretsHelp.stdout).toContain('Enable a secrets engine');
    const auth = await cli.run(['auth', 'disable', 'approle']);
    expect(auth.stdout).toBe('Success! Disabled the auth method at: approle\n');
    const secrets = await cli.run(['secrets', 'disable', 'kv2']);
    expect(secrets.stdout).toBe('Success! Disabled the secrets engine at: kv2\n');
  });

  it('coffer secrets list prints path, type and description columns', async () => {
    cli.client.answer('mounts.listSecrets', {
      data: { 'secret/': { type: 'kv', description: 'key/value' }, 'sys/': { type: 'system' } },
    });
    const run = await cli.run(['secrets', 'list']);
    expect(run.stdout).toBe(
      'Path       Type      Description\n' +
        '----       ----      -----------\n' +
        'secret/    kv        key/value\n' +
        'sys/       system\n',
    );
  });
});
