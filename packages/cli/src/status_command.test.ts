/**
 * Goal: `coffer status` exits 0 unsealed, 2 sealed, 1 on error (Vault's convention), prints
 * Vault's labels in a table and the seal-status data as stable JSON, and sends no token.
 * Method: the command tree in-process (testing/cli_harness.ts) against the client double.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createCliHarness, type CliHarness } from './testing/cli_harness.ts';
import { clientError } from './testing/client_double.ts';

const unsealed = {
  type: 'shamir',
  initialized: true,
  sealed: false,
  standby: false,
  t: 3,
  n: 5,
  progress: 0,
  nonce: null,
  cluster_id: 'c-1',
};

let cli: CliHarness;
beforeEach(async () => {
  cli = await createCliHarness();
});
afterEach(async () => {
  await cli.dispose();
});

describe('coffer status', () => {
  it('coffer status exits 0 and prints a table when unsealed', async () => {
    cli.client.answer('sys.sealStatus', { data: unsealed });
    const run = await cli.run(['status'], { env: { COFFER_TOKEN: 'not-sent' } });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Key +Value\n/);
    expect(run.stdout).toMatch(/Sealed +false/);
    expect(run.stdout).toMatch(/Total Shares +5/);
    expect(run.stdout).toMatch(/HA Mode +active/);
    expect(cli.client.opened[0]).not.toHaveProperty('token');
    expect(cli.client.closed).toBe(1);
  });

  it('coffer status exits 2 and shows the unseal progress when sealed', async () => {
    cli.client.answer('sys.sealStatus', { data: { ...unsealed, sealed: true, progress: 1 } });
    const run = await cli.run(['status']);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/Unseal Progress +1\/3/);
  });

  it('coffer status exits 1 and prints the error with its code when the call fails', async () => {
    cli.client.answer('sys.sealStatus', {
      error: clientError('COFFER_CLIENT_UNAVAILABLE', 'Check that the server runs', 14),
    });
    const run = await cli.run(['status']);
    expect(run).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'Error: Check that the server runs (COFFER_CLIENT_UNAVAILABLE)\n',
    });
  });

  it('coffer status exits 1 without a CA certificate', async () => {
    const run = await cli.run(['status'], { env: { COFFER_CACERT: '' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('(COFFER_CLI_CA_CERT_MISSING)');
    expect(cli.client.calls).toEqual([]);
  });

  it('coffer status --format json prints the seal-status data with sorted keys', async () => {
    cli.client.answer('sys.sealStatus', { data: unsealed });
    const run = await cli.run(['status', '--format', 'json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(unsealed);
    expect(Object.keys(JSON.parse(run.stdout) as object)).toEqual(Object.keys(unsealed).sort());
  });

  it('coffer status takes the global options after the subcommand', async () => {
    cli.client.answer('sys.sealStatus', { data: unsealed });
    const run = await cli.run([
      'status',
      '--address',
      'https://10.0.0.1:8200',
      '--ca-cert',
      cli.caPath,
    ]);
    expect(run.code).toBe(0);
    expect(cli.client.opened[0]?.address).toBe('https://10.0.0.1:8200');
  });

  it('coffer status shows the stored seal type and migration state when they differ', async () => {
    const stale = {
      ...unsealed,
      sealed: true,
      type: 'pkcs11',
      stored_type: 'shamir',
      seal_migration: 'config_differs',
      auto_unseal_failure: 'COFFER_CORE_SEAL_TYPE_MISMATCH',
    };
    cli.client.answer('sys.sealStatus', { data: stale });
    const run = await cli.run(['status']);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/Stored Seal Type +shamir/);
    expect(run.stdout).toMatch(/Seal Migration +config_differs/);
    expect(run.stdout).toMatch(/Auto-unseal Failure +COFFER_CORE_SEAL_TYPE_MISMATCH/);
    cli.client.answer('sys.sealStatus', { data: { ...unsealed, seal_migration: 'none' } });
    expect((await cli.run(['status'])).stdout).not.toContain('Stored Seal Type');
  });
});
