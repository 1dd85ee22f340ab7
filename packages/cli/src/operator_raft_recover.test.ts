/**
 * Goal: `coffer operator raft recover` prints its unsafe warning first, runs offline (no client
 * call, no token), exits 1 on every refusal with the stable code, and needs both --config and
 * --peers. Method: the command tree in-process against the client double, with a server config
 * and peers files in the harness's temporary home; the real recovery of a node's data is proved
 * in log_recovery.test.ts (storage) and test/src/raft_recover_e2e.test.ts (processes).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { createCliHarness, type CliHarness } from './testing/cli_harness.ts';

let cli: CliHarness;
let config = '';

// NB: the command loads the server stack lazily; loading it once here keeps that (seconds on a
// busy machine) out of the tests' own time limit.
beforeAll(async () => {
  await import('@coffer/api');
}, 120_000);

beforeEach(async () => {
  cli = await createCliHarness();
  config = join(cli.home, 'coffer.json');
  await mkdir(join(cli.home, 'data'));
  await writeFile(
    config,
    JSON.stringify({
      node_id: 1,
      storage: { path: 'data' },
      listeners: { grpc: { tls_cert_file: 'cert.pem', tls_key_file: 'key.pem' } },
    }),
  );
});
afterEach(async () => {
  await cli.dispose();
});

async function peersFile(text: string): Promise<string> {
  const file = join(cli.home, 'peers.json');
  await writeFile(file, text);
  return file;
}

describe('coffer operator raft recover', () => {
  it('operator raft recover warns, then refuses a bad peers file with exit 1 and no server call', async () => {
    const peers = await peersFile('[{"id": 1}, {"id": 1}]');
    const run = await cli.run([
      'operator',
      'raft',
      'recover',
      '--config',
      config,
      '--peers',
      peers,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^WARNING: "operator raft recover" is unsafe/);
    expect(run.stderr).toContain('peers[1].id: duplicate of peers[0] (id 1)');
    expect(run.stderr).toContain('COFFER_CORE_PEERS_INVALID');
    expect(run.stdout).toBe('');
    expect(cli.client.calls).toEqual([]);
  });

  it('operator raft recover refuses a data directory that holds no node', async () => {
    const peers = await peersFile('[{"id": 1}]');
    const run = await cli.run([
      'operator',
      'raft',
      'recover',
      '--config',
      config,
      '--peers',
      peers,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('COFFER_CORE_RECOVERY_REFUSED');
  });

  it('operator raft recover requires --peers', async () => {
    const run = await cli.run(['operator', 'raft', 'recover', '--config', config]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--peers');
  });
});
