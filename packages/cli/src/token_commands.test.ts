/**
 * Goal: `coffer token create` maps Vault's flags to the request and prints the new token (table
 * or stable JSON); lookup never prints a token id; lookup, renew and revoke act on the caller's
 * token, on one read from stdin with `-`, or on --accessor, and refuse a token argument.
 * Method: the command tree in-process against the client double.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createCliHarness, type CliHarness } from './testing/cli_harness.ts';

const auth = {
  clientToken: 'new-token',
  accessor: 'acc-9',
  policies: ['app', 'default'],
  tokenPolicies: ['app', 'default'],
  metadata: {},
  leaseDurationSeconds: 600,
  renewable: true,
  orphan: false,
  tokenType: 'service',
  numUses: 2,
};

let cli: CliHarness;
beforeEach(async () => {
  cli = await createCliHarness({ token: 'caller-token' });
  cli.client.answer('auth.tokenCreate', { auth });
});
afterEach(async () => {
  await cli.dispose();
});

describe('coffer token', () => {
  it('token create maps the flags to the request', async () => {
    const run = await cli.run([
      'token',
      'create',
      '--policy',
      'app',
      '--policy',
      'ops',
      '--ttl',
      '10m',
      '--orphan',
      '--no-default-policy',
      '--use-limit',
      '2',
      '--metadata',
      'team=a',
    ]);
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('auth.tokenCreate')[0]?.args[0]).toEqual({
      policies: ['app', 'ops'],
      ttl: '10m',
      noParent: true,
      noDefaultPolicy: true,
      numUses: 2,
      metadata: { team: 'a' },
    });
    expect(run.stdout).toMatch(/^Key +Value\n/);
    expect(run.stdout).toMatch(/token +new-token\n/);
    expect(run.stdout).toMatch(/token_accessor +acc-9/);
  });

  it('token create --format json prints Vault’s secret shape with the auth block', async () => {
    const run = await cli.run(['token', 'create', '--format', 'json']);
    const printed = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(printed['auth']).toEqual({
      accessor: 'acc-9',
      client_token: 'new-token',
      lease_duration: 600,
      metadata: {},
      num_uses: 2,
      orphan: false,
      policies: ['app', 'default'],
      renewable: true,
      token_policies: ['app', 'default'],
      token_type: 'service',
    });
    expect(Object.keys(printed)).toEqual([
      'auth',
      'data',
      'lease_duration',
      'lease_id',
      'renewable',
      'request_id',
      'warnings',
      'wrap_info',
    ]);
  });

  it('token lookup prints no token id', async () => {
    cli.client.answer('auth.tokenLookup', {
      data: { id: 'hidden-id-canary', accessor: 'acc-1', policies: ['default'] },
    });
    const table = await cli.run(['token', 'lookup']);
    const json = await cli.run(['token', 'lookup', '--format', 'json']);
    expect(table.stdout).toMatch(/accessor +acc-1/);
    expect(table.stdout + json.stdout).not.toContain('hidden-id-canary');
    expect(cli.client.callsOf('auth.tokenLookup')[0]?.args).toEqual([]);
  });

  it('token lookup - reads the token from stdin; --accessor looks up by accessor', async () => {
    await cli.run(['token', 'lookup', '-'], { stdin: 'other-token\n' });
    await cli.run(['token', 'lookup', '--accessor', 'acc-3']);
    expect(cli.client.callsOf('auth.tokenLookup')[0]?.args).toEqual([{ token: 'other-token' }]);
    expect(cli.client.callsOf('logical.write')[0]?.args).toEqual([
      'auth/token/lookup-accessor',
      { accessor: 'acc-3' },
    ]);
  });

  it('token lookup, renew and revoke refuse a token argument without echoing it', async () => {
    for (const sub of ['lookup', 'renew', 'revoke']) {
      const run = await cli.run(['token', sub, 'arg-token-canary']);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('(COFFER_CLI_INVALID_ARGUMENT)');
      expect(run.stderr).not.toContain('arg-token-canary');
    }
    expect(cli.client.calls).toEqual([]);
  });

  it('token renew sends the increment; token revoke --accessor revokes by accessor', async () => {
    cli.client.answer('auth.tokenRenew', { auth });
    const renew = await cli.run(['token', 'renew', '--increment', '1h']);
    expect(cli.client.callsOf('auth.tokenRenew')[0]?.args).toEqual([{ increment: '1h' }]);
    expect(renew.stdout).not.toContain('new-token');
    const revoke = await cli.run(['token', 'revoke', '--accessor', 'acc-9']);
    expect(revoke.code).toBe(0);
    expect(cli.client.callsOf('auth.tokenRevokeAccessor')[0]?.args).toEqual([
      { accessor: 'acc-9' },
    ]);
  });
});
