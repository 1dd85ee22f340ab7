/**
 * Goal: generic `coffer write` shows what the server answered: a token's auth block (with the
 * token, as `token create` does) and the data in table format, the whole response as stable
 * JSON, and a success line naming the path when there is nothing to show; its body comes from
 * `k=v` pairs, or whole from `@file.json` or `-` (stdin) as a JSON object, and a body that is
 * not one is refused without quoting it.
 * Method: the command tree in-process against the client double.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createCliHarness, type CliHarness } from './testing/cli_harness.ts';

const canary = 'canary-body-4f2a91';
const auth = {
  clientToken: 'issued-token-77',
  accessor: 'acc-3',
  policies: ['app', 'default'],
  tokenPolicies: ['app', 'default'],
  metadata: { role_name: 'app' },
  leaseDurationSeconds: 3600,
  renewable: true,
  orphan: true,
  tokenType: 'service',
  numUses: 0,
};

let cli: CliHarness;
beforeEach(async () => {
  cli = await createCliHarness({ token: 'caller-token' });
});
afterEach(async () => {
  await cli.dispose();
});

function writeCalls(): unknown[][] {
  return cli.client.callsOf('logical.write').map((call) => [...call.args]);
}

describe('coffer write output', () => {
  it('write prints the auth block of a token it creates, with the token', async () => {
    cli.client.answer('logical.write', { auth });
    const run = await cli.run(['write', 'auth/token/create', 'policies=app']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Key +Value\n/);
    expect(run.stdout).toMatch(/\ntoken +issued-token-77\n/);
    expect(run.stdout).toMatch(/\ntoken_accessor +acc-3\n/);
    expect(run.stdout).toMatch(/\ntoken_duration +3600s\n/);
    expect(run.stdout).toMatch(/\ntoken_policies +\[app default\]\n/);
    expect(run.stdout).not.toContain('Success!');
  });

  it('write prints an AppRole login token read with secret_id=- from stdin', async () => {
    cli.client.answer('logical.write', { auth });
    const run = await cli.run(['write', 'auth/approle/login', 'role_id=r-1', 'secret_id=-'], {
      stdin: 'sid-1',
    });
    expect(writeCalls()).toEqual([['auth/approle/login', { role_id: 'r-1', secret_id: 'sid-1' }]]);
    expect(run.stdout).toMatch(/\ntoken +issued-token-77\n/);
    expect(run.stdout).not.toContain('sid-1');
  });

  it('write prints the auth block and the data together when both come back', async () => {
    cli.client.answer('logical.write', { auth, data: { extra: 'x' } });
    const run = await cli.run(['write', 'auth/token/create']);
    expect(run.stdout).toMatch(/\ntoken +issued-token-77\n/);
    expect(run.stdout).toMatch(/\nextra +x\n/);
  });

  it('write prints the data of a response without auth', async () => {
    cli.client.answer('logical.write', { data: { secret_id: 's-9', secret_id_accessor: 'a-9' } });
    const run = await cli.run(['write', 'auth/approle/role/app/secret-id']);
    expect(run.stdout).toBe(
      'Key                   Value\n' +
        '---                   -----\n' +
        'secret_id             s-9\n' +
        'secret_id_accessor    a-9\n',
    );
  });

  it('write names the path in its success line when there is nothing to show', async () => {
    const run = await cli.run(['write', '/auth/approle/role/app', 'token_policies=app']);
    expect(run).toMatchObject({
      code: 0,
      stdout: 'Success! Data written to: auth/approle/role/app\n',
    });
  });

  it('write --format json keeps Vault’s secret shape with the auth block', async () => {
    cli.client.answer('logical.write', { auth });
    const run = await cli.run(['write', 'auth/token/create', '--format', 'json']);
    expect(JSON.parse(run.stdout)).toEqual({
      auth: {
        accessor: 'acc-3',
        client_token: 'issued-token-77',
        lease_duration: 3600,
        metadata: { role_name: 'app' },
        num_uses: 0,
        orphan: true,
        policies: ['app', 'default'],
        renewable: true,
        token_policies: ['app', 'default'],
        token_type: 'service',
      },
      data: {},
      lease_duration: 0,
      lease_id: '',
      renewable: false,
      request_id: 'req-1',
      warnings: [],
      wrap_info: null,
    });
  });
});

describe('coffer write body', () => {
  it('write @file.json sends the file’s JSON object as the body', async () => {
    const file = join(cli.home, 'body.json');
    await writeFile(file, JSON.stringify({ policies: ['app', 'ops'], meta: { team: 'a' }, n: 3 }));
    const run = await cli.run(['write', 'auth/token/create', `@${file}`]);
    expect(run.code).toBe(0);
    expect(writeCalls()).toEqual([
      ['auth/token/create', { policies: ['app', 'ops'], meta: { team: 'a' }, n: 3 }],
    ]);
  });

  it('write - sends the JSON object read from stdin as the body', async () => {
    const run = await cli.run(['write', 'sys/x', '-'], { stdin: '{"keys": ["a", "b"]}\n' });
    expect(run.code).toBe(0);
    expect(writeCalls()).toEqual([['sys/x', { keys: ['a', 'b'] }]]);
  });

  it('write keeps k=v, k=@file and k=- values as strings', async () => {
    const file = join(cli.home, 'v.txt');
    await writeFile(file, '{"not":"parsed"}');
    await cli.run(['write', 'sys/x', 'a=1', `b=@${file}`, 'c=-'], { stdin: '[1]' });
    expect(writeCalls()).toEqual([['sys/x', { a: '1', b: '{"not":"parsed"}', c: '[1]' }]]);
  });

  it('write refuses a body that is not a JSON object, without quoting it', async () => {
    const file = join(cli.home, 'list.json');
    await writeFile(file, JSON.stringify([canary]));
    const runs = [
      await cli.run(['write', 'sys/x', '-'], { stdin: `{"a": "${canary}"` }),
      await cli.run(['write', 'sys/x', '-'], { stdin: `"${canary}"` }),
      await cli.run(['write', 'sys/x', '-'], { stdin: 'null' }),
      await cli.run(['write', 'sys/x', `@${file}`]),
      await cli.run(['write', 'sys/x', '-'], { stdin: canary }),
    ];
    for (const run of runs) {
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^Error: .*JSON object.* \(COFFER_CLI_INVALID_ARGUMENT\)\n$/);
      expect(run.stdout + run.stderr).not.toContain(canary);
    }
    expect(writeCalls()).toEqual([]);
  });

  it('write refuses an empty stdin body, an unreadable body file and a mixed body', async () => {
    const empty = await cli.run(['write', 'sys/x', '-'], { stdin: '' });
    expect(empty.stderr).toContain('(COFFER_CLI_INPUT_MISSING)');
    const absent = await cli.run(['write', 'sys/x', `@${join(cli.home, 'absent.json')}`]);
    expect(absent.stderr).toMatch(/absent\.json.*ENOENT.*\(COFFER_CLI_FILE_UNREADABLE\)\n$/);
    const mixed = await cli.run(['write', 'sys/x', '-', 'a=1']);
    expect(mixed.stderr).toContain('(COFFER_CLI_INVALID_ARGUMENT)');
    expect(mixed.stderr).toContain('alone');
    expect([empty.code, absent.code, mixed.code]).toEqual([1, 1, 1]);
    expect(writeCalls()).toEqual([]);
  });
});
