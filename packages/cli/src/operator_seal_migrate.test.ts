/**
 * Goal: `coffer operator seal-migrate` sends what its subcommands name to sys/seal-migration:
 * init sends the target type and share counts (never HSM settings), submit refuses a share
 * argument before any call and submits one from stdin with the running attempt's nonce, and
 * prints the new shares once under the name of their kind; status reads, cancel deletes.
 * Method: the command tree in-process against the client double, with a token; stdin a string.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createCliHarness, type CliHarness } from './testing/cli_harness.ts';

const canary = 'share-canary-5e1d';

let cli: CliHarness;
beforeEach(async () => {
  cli = await createCliHarness({ token: 'cfr.test-token' });
});
afterEach(async () => {
  await cli.dispose();
});

describe('coffer operator seal-migrate', () => {
  it('operator seal-migrate init sends the target type and the new share counts', async () => {
    cli.client.answer('logical.write', { data: { started: true, nonce: 'm-1' } });
    const run = await cli.run([
      'operator',
      'seal-migrate',
      'init',
      '--type',
      'pkcs11',
      '--generate-hsm-key',
      '--key-shares',
      '3',
      '--key-threshold',
      '2',
    ]);
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('logical.write')[0]?.args).toEqual([
      'sys/seal-migration/init',
      { type: 'pkcs11', secret_shares: 3, secret_threshold: 2, generate_hsm_key: true },
    ]);
  });

  it('operator seal-migrate init refuses another type before any call', async () => {
    const run = await cli.run(['operator', 'seal-migrate', 'init', '--type', 'transit']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('(COFFER_CLI_INVALID_ARGUMENT)');
    expect(cli.client.callsOf('logical.write')).toEqual([]);
  });

  it('operator seal-migrate submit refuses a share argument without calling or echoing it', async () => {
    const run = await cli.run(['operator', 'seal-migrate', 'submit', canary]);
    expect(run.code).toBe(1);
    expect(run.stderr).not.toContain(canary);
    expect(cli.client.callsOf('logical.write')).toEqual([]);
  });

  it('operator seal-migrate submit sends a stdin share with the running nonce and prints the new shares', async () => {
    cli.client.answer('logical.read', { data: { started: true, nonce: 'm-2' } });
    cli.client.answer('logical.write', {
      data: { complete: true, seal_type: 'pkcs11', keys: [], recovery_keys: ['r-1', 'r-2'] },
    });
    const run = await cli.run(['operator', 'seal-migrate', 'submit'], { stdin: `${canary}\n` });
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('logical.read')[0]?.args[0]).toBe('sys/seal-migration');
    expect(cli.client.callsOf('logical.write')[0]?.args).toEqual([
      'sys/seal-migration/update',
      { key: canary, nonce: 'm-2' },
    ]);
    expect(run.stdout).toContain('Recovery Key 2: r-2\n');
    expect(run.stdout).toContain('Restart the nodes one at a time');
    expect(run.stdout).not.toContain(canary);
  });

  it('operator seal-migrate status reads and cancel deletes sys/seal-migration', async () => {
    cli.client.answer('logical.read', { data: { started: false, nonce: '' } });
    expect((await cli.run(['operator', 'seal-migrate', 'status'])).code).toBe(0);
    const cancel = await cli.run(['operator', 'seal-migrate', 'cancel']);
    expect(cancel.stdout).toContain('Success!');
    expect(cli.client.callsOf('logical.delete')[0]?.args[0]).toBe('sys/seal-migration');
  });
});
