/**
 * Goal: `coffer kv` splits `mount/path` as Vault's kv helper (or takes --mount), sends data
 * from k=v, k=@file and k=-, passes --cas, --version and --versions, prints `kv get` as Vault's
 * secret JSON (stable, sorted) or a table, and prints only a field with --field.
 * Method: the command tree in-process against the client double.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createCliHarness, type CliHarness } from './testing/cli_harness.ts';

const secret = {
  data: { password: 'pw-1', user: 'app' },
  metadata: {
    version: 2,
    created_time: '2026-01-01T00:00:00Z',
    deletion_time: '',
    destroyed: false,
  },
};

let cli: CliHarness;
beforeEach(async () => {
  cli = await createCliHarness({ token: 'caller-token' });
  cli.client.answer('kv.get', { data: secret });
});
afterEach(async () => {
  await cli.dispose();
});

describe('coffer kv', () => {
  it('kv put sends mount, path and data from literals, a file and stdin', async () => {
    const file = join(cli.home, 'pw.txt');
    await writeFile(file, 'from-file');
    const run = await cli.run(
      ['kv', 'put', '--cas', '0', 'secret/app/db', 'user=app', `password=@${file}`, 'key=-'],
      { stdin: 'from-stdin' },
    );
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('kv.put')[0]?.args[0]).toEqual({
      mount: 'secret',
      path: 'app/db',
      cas: 0,
      data: { user: 'app', password: 'from-file', key: 'from-stdin' },
    });
  });

  it('kv put takes the whole argument as the path with --mount, and refuses no data', async () => {
    await cli.run(['kv', 'put', '--mount', 'team/kv', 'app/db', 'a=1']);
    expect(cli.client.callsOf('kv.put')[0]?.args[0]).toMatchObject({
      mount: 'team/kv',
      path: 'app/db',
    });
    const run = await cli.run(['kv', 'put', 'secret/app']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('(COFFER_CLI_INVALID_ARGUMENT)');
  });

  it('kv get refuses a path without a secret below the mount', async () => {
    const run = await cli.run(['kv', 'get', 'secret']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Name a secret below the mount "secret"');
    expect(cli.client.calls).toEqual([]);
  });

  it('kv get --format json prints the secret as Vault does, keys sorted', async () => {
    const run = await cli.run(['kv', 'get', '--format', 'json', '--version', '2', 'secret/app/db']);
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('kv.get')[0]?.args[0]).toEqual({
      mount: 'secret',
      path: 'app/db',
      version: 2,
    });
    const printed = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(printed).toEqual({
      auth: null,
      data: secret,
      lease_duration: 0,
      lease_id: '',
      renewable: false,
      request_id: 'req-1',
      warnings: [],
      wrap_info: null,
    });
    expect(Object.keys(printed)).toEqual(Object.keys(printed).sort());
  });

  it('kv get prints metadata and data tables', async () => {
    const run = await cli.run(['kv', 'get', 'secret/app/db']);
    expect(run.stdout).toContain('======= Metadata =======');
    expect(run.stdout).toMatch(/password +pw-1/);
    expect(run.stdout).toMatch(/version +2/);
  });

  it('kv get --field prints only the value, and names the fields of a missing one', async () => {
    const run = await cli.run(['kv', 'get', '--field', 'password', 'secret/app/db']);
    expect(run).toMatchObject({ code: 0, stdout: 'pw-1' });
    const missing = await cli.run(['kv', 'get', '--field', 'nope', 'secret/app/db']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('fields: password, user');
    expect(missing.stderr).not.toContain('pw-1');
  });

  it('kv delete, undelete and destroy pass --versions; undelete needs them', async () => {
    await cli.run(['kv', 'delete', 'secret/app/db']);
    await cli.run(['kv', 'destroy', '--versions', '1,3', 'secret/app/db']);
    expect(cli.client.callsOf('kv.delete')[0]?.args[0]).toEqual({
      mount: 'secret',
      path: 'app/db',
    });
    expect(cli.client.callsOf('kv.destroy')[0]?.args[0]).toEqual({
      mount: 'secret',
      path: 'app/db',
      versions: [1, 3],
    });
    const run = await cli.run(['kv', 'undelete', 'secret/app/db']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--versions');
    const bad = await cli.run(['kv', 'destroy', '--versions', '0,x', 'secret/app/db']);
    expect(bad.code).toBe(1);
  });

  it('kv list accepts the mount root and prints keys as a JSON array', async () => {
    cli.client.answer('kv.list', { data: { keys: ['app/', 'db'] } });
    const run = await cli.run(['kv', 'list', '--format', 'json', 'secret']);
    expect(cli.client.callsOf('kv.list')[0]?.args[0]).toEqual({ mount: 'secret', path: '' });
    expect(JSON.parse(run.stdout)).toEqual(['app/', 'db']);
    const table = await cli.run(['kv', 'list', 'secret/']);
    expect(table.stdout).toBe('Keys\n----\napp/\ndb\n');
  });

  it('kv patch sends the changed keys and --cas to kv.patch, not kv.put', async () => {
    const run = await cli.run(['kv', 'patch', '--cas', '2', 'secret/app/db', 'user=other']);
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('kv.patch')[0]?.args[0]).toEqual({
      mount: 'secret',
      path: 'app/db',
      cas: 2,
      data: { user: 'other' },
    });
    expect(cli.client.callsOf('kv.put')).toHaveLength(0);
  });

  it('kv metadata get reads the metadata of mount/path and prints it as JSON', async () => {
    const metadata = { current_version: 2, max_versions: 0, versions: { '1': {}, '2': {} } };
    cli.client.answer('kv.readMetadata', { data: metadata });
    const run = await cli.run(['kv', 'metadata', 'get', '--format', 'json', 'secret/app/db']);
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('kv.readMetadata')[0]?.args[0]).toEqual({
      mount: 'secret',
      path: 'app/db',
    });
    expect(JSON.parse(run.stdout)).toMatchObject({ data: metadata });
  });

  it('kv metadata put sends the options given', async () => {
    const run = await cli.run([
      'kv',
      'metadata',
      'put',
      '--max-versions',
      '4',
      '--cas-required',
      'true',
      '--custom-metadata',
      'owner=team',
      'secret/app/db',
    ]);
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('kv.writeMetadata')[0]?.args[0]).toEqual({
      mount: 'secret',
      path: 'app/db',
      maxVersions: 4,
      casRequired: true,
      customMetadata: { owner: 'team' },
    });
  });
});
