/**
 * Goal: `coffer operator unseal` refuses a share given as an argument (before any call),
 * reads it from stdin or a no-echo prompt, and passes --reset, --migrate and --break-glass;
 * `operator init` sends the share counts and prints the shares once (JSON stable); rekey and
 * generate-root submit shares from stdin with the running attempt's nonce.
 * Method: the command tree in-process against the client double; stdin a string or a fake TTY.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createCliHarness, type CliHarness } from './testing/cli_harness.ts';

const canary = 'share-canary-91c4';
const sealed = { type: 'shamir', initialized: true, sealed: true, t: 3, n: 5, progress: 1 };

let cli: CliHarness;
beforeEach(async () => {
  cli = await createCliHarness();
  cli.client.answer('sys.unseal', { data: sealed });
});
afterEach(async () => {
  await cli.dispose();
});

describe('coffer operator unseal', () => {
  it('operator unseal refuses a share argument without calling the server or echoing it', async () => {
    const run = await cli.run(['operator', 'unseal', canary]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('prompt or on stdin');
    expect(run.stderr).toContain('(COFFER_CLI_INVALID_ARGUMENT)');
    expect(run.stderr + run.stdout).not.toContain(canary);
    expect(cli.client.calls).toEqual([]);
  });

  it('operator unseal reads one line of stdin and sends it as the key', async () => {
    const run = await cli.run(['operator', 'unseal'], { stdin: `${canary}\nnext\n` });
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('sys.unseal')[0]?.args).toEqual([{ key: canary }]);
    expect(run.stdout).toMatch(/Unseal Progress +1\/3/);
    expect(run.stdout + run.stderr).not.toContain(canary);
  });

  it('operator unseal reads the share from a no-echo prompt on a terminal', async () => {
    const run = await cli.run(['operator', 'unseal', '--migrate'], { tty: `${canary}\r` });
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('sys.unseal')[0]?.args).toEqual([{ key: canary, migrate: true }]);
    expect(run.stderr).toBe('Unseal key (will be hidden): \n');
  });

  it('operator unseal --break-glass marks the share and --reset sends no share', async () => {
    await cli.run(['operator', 'unseal', '--break-glass'], { stdin: canary });
    await cli.run(['operator', 'unseal', '--reset']);
    expect(cli.client.callsOf('sys.unseal').map((call) => call.args[0])).toEqual([
      { key: canary, breakGlass: true },
      { reset: true },
    ]);
  });

  it('operator unseal refuses empty stdin', async () => {
    const run = await cli.run(['operator', 'unseal'], { stdin: '' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('(COFFER_CLI_INPUT_MISSING)');
    expect(cli.client.calls).toEqual([]);
  });

  it('operator unseal --format json prints the seal status', async () => {
    const run = await cli.run(['operator', 'unseal', '--format', 'json'], { stdin: canary });
    expect(JSON.parse(run.stdout)).toEqual(sealed);
  });
});

describe('coffer operator init', () => {
  const initData = {
    keys: ['k1', 'k2', 'k3'],
    root_token: 'root-t',
    cluster_id: 'c',
    seal_type: 'shamir',
  };

  it('operator init sends the share counts and prints the shares and the root token', async () => {
    cli.client.answer('sys.init', { data: initData });
    const run = await cli.run(['operator', 'init', '--key-shares', '3', '--key-threshold', '2']);
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('sys.init')[0]?.args).toEqual([
      { secretShares: 3, secretThreshold: 2 },
    ]);
    expect(run.stdout).toContain('Unseal Key 3: k3\n');
    expect(run.stdout).toContain('Initial Root Token: root-t\n');
  });

  it('operator init --format json prints the init data with sorted keys', async () => {
    cli.client.answer('sys.init', { data: initData });
    const run = await cli.run(['operator', 'init', '--format', 'json']);
    expect(JSON.parse(run.stdout)).toEqual(initData);
    expect(cli.client.callsOf('sys.init')[0]?.args).toEqual([
      { secretShares: 5, secretThreshold: 3 },
    ]);
  });

  it('operator init refuses a share count that is not a number (commander usage error)', async () => {
    const run = await cli.run(['operator', 'init', '--key-shares', 'five']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("option '--key-shares <n>' argument 'five' is invalid");
    expect(cli.client.calls).toEqual([]);
  });
});

describe('coffer operator rekey and generate-root', () => {
  it('operator rekey submits a share from stdin with the running nonce and prints the new shares', async () => {
    cli.client.answer('sys.rekeyStatus', { data: { nonce: 'n-1' } });
    cli.client.answer('sys.rekeyUpdate', { data: { keys: ['new-1', 'new-2'], complete: true } });
    const run = await cli.run(['operator', 'rekey'], { stdin: `${canary}\n` });
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('sys.rekeyUpdate')[0]?.args).toEqual([{ key: canary, nonce: 'n-1' }]);
    expect(run.stdout).toContain('Key 2: new-2\n');
  });

  it('operator rekey --init sends the new counts', async () => {
    await cli.run(['operator', 'rekey', '--init', '--key-shares', '7', '--key-threshold', '4']);
    expect(cli.client.callsOf('sys.rekeyInit')[0]?.args).toEqual([
      { secretShares: 7, secretThreshold: 4 },
    ]);
  });

  it('operator generate-root refuses a share argument and submits one from stdin', async () => {
    const refused = await cli.run(['operator', 'generate-root', canary]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).not.toContain(canary);
    cli.client.answer('sys.generateRootUpdate', { data: { encoded_token: 'ZW5j' } });
    const run = await cli.run(['operator', 'generate-root', '--nonce', 'g-1'], { stdin: canary });
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('sys.generateRootUpdate')[0]?.args).toEqual([
      { key: canary, nonce: 'g-1' },
    ]);
    expect(run.stdout).toMatch(/encoded_token +ZW5j/);
  });

  it('operator generate-root --init --otp sends the one-time key', async () => {
    const otp = 'o'.repeat(24);
    cli.client.answer('sys.generateRootInit', { data: { nonce: 'g-2', started: true } });
    const run = await cli.run(['operator', 'generate-root', '--init', '--otp', otp]);
    expect(run.code).toBe(0);
    expect(cli.client.callsOf('sys.generateRootInit')[0]?.args).toEqual([{ otp }]);
  });

  it('operator seal calls seal with the caller token', async () => {
    const run = await cli.run(['operator', 'seal'], { env: { COFFER_TOKEN: 'tok' } });
    expect(run).toMatchObject({ code: 0, stdout: 'Success! Coffer is sealed.\n' });
    expect(cli.client.opened[0]?.token).toBe('tok');
    expect(cli.client.callsOf('sys.seal')).toHaveLength(1);
  });

  it('operator step-down and rotate each make their one call with the caller token', async () => {
    const env = { COFFER_TOKEN: 'tok' };
    const down = await cli.run(['operator', 'step-down'], { env });
    expect(down).toMatchObject({ code: 0, stdout: 'Success! Stepped down.\n' });
    expect(cli.client.callsOf('sys.stepDown')).toHaveLength(1);
    const rotate = await cli.run(['operator', 'rotate'], { env });
    expect(rotate).toMatchObject({ code: 0, stdout: 'Success! Rotated the encryption key.\n' });
    expect(cli.client.callsOf('sys.rotate')).toHaveLength(1);
    expect(cli.client.opened.map((opened) => opened.token)).toEqual(['tok', 'tok']);
  });
});

// NB: the one-time key code loads @coffer/api on first use (root_otp.ts), which the test runner
// transforms from source: about 4 s alone, more on a busy machine, so the default 5 s is too short.
describe('coffer operator generate-root one-time key', { timeout: 30_000 }, () => {
  it('operator generate-root --init makes a one-time key and --decode reads the token with it', async () => {
    const init = await cli.run(['operator', 'generate-root', '--init', '--format', 'json']);
    const otp = (JSON.parse(init.stdout) as { otp: string }).otp;
    expect(cli.client.callsOf('sys.generateRootInit')[0]?.args).toEqual([{ otp }]);
    const token = 'cfr.' + 'x'.repeat(otp.length - 4);
    const tokenBytes = Buffer.from(token, 'latin1');
    const otpBytes = Buffer.from(otp, 'latin1');
    const encoded = Buffer.from(
      tokenBytes.map((byte, index) => byte ^ (otpBytes[index] ?? 0)),
    ).toString('base64');
    const run = await cli.run(['operator', 'generate-root', '--decode', encoded, '--otp', otp]);
    expect(run).toMatchObject({ code: 0, stdout: `${token}\n` });
    expect(cli.client.calls).toHaveLength(1);
  });
});
