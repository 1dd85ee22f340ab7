/**
 * Goal: a `coffer server --config` with a PKCS#11 seal on a real SoftHSM2 token initializes
 * with a wrapping key generated inside the token and recovery shares (no unseal shares), stays
 * unsealed, and after a restart unseals itself through the HSM with no share given: a value
 * written before the restart reads back after it. Nothing secret reaches the server log.
 * Method: a SoftHSM2 token of this test's own (its own SOFTHSM2_CONF and token directory, the
 * slot found by label); the server and every `coffer` command are real processes; waits are
 * on printed lines, exits and a status poll with a deadline.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createSelfSignedTls } from '@coffer/api';
import { createSoftHsmToken, softHsmLibraryPath, type SoftHsmToken } from '@coffer/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  cleanEnv,
  processDeadlineMs,
  runCoffer,
  startCofferServer,
  type Ran,
  type ServerProcess,
} from './coffer_processes.ts';

const canary = 'canary-hsm-value-7d2e91';

let dir = '';
let token: SoftHsmToken | undefined;
let caFile = '';
let configFile = '';
let server: ServerProcess | undefined;

function serverEnv(): NodeJS.ProcessEnv {
  return cleanEnv(dir, { SOFTHSM2_CONF: token?.confPath ?? '' });
}

function coffer(args: readonly string[], stdin = ''): Promise<Ran> {
  const env = cleanEnv(dir, { COFFER_ADDR: server?.grpcAddress ?? '', COFFER_CACERT: caFile });
  return runCoffer(args, { env, stdin });
}

async function ok(args: readonly string[]): Promise<string> {
  const ran = await coffer(args);
  if (ran.code !== 0) {
    throw new Error(`coffer ${args.join(' ')} exited ${ran.code}: ${ran.stderr}`);
  }
  return ran.stdout;
}

/** Polls `coffer status` until it exits 0 (unsealed), within the deadline. */
async function untilUnsealed(): Promise<void> {
  const deadline = performance.now() + processDeadlineMs;
  while ((await coffer(['status'])).code !== 0) {
    if (performance.now() > deadline) {
      throw new Error('the server did not unseal itself through the HSM in time');
    }
  }
}

beforeAll(async () => {
  token = createSoftHsmToken('coffer-e2e');
  dir = await mkdtemp(join(tmpdir(), 'coffer-hsm-e2e-'));
  const tls = await createSelfSignedTls({ hosts: ['localhost', '127.0.0.1'] });
  caFile = join(dir, 'ca.pem');
  await writeFile(caFile, tls.certPem);
  await writeFile(join(dir, 'key.pem'), tls.keyPem, { mode: 0o600 });
  configFile = join(dir, 'coffer.json');
  const listener = { tls_cert_file: caFile, tls_key_file: join(dir, 'key.pem') };
  const config = {
    node_id: 1,
    storage: { path: join(dir, 'data') },
    listeners: {
      grpc: { address: '127.0.0.1:0', ...listener },
      http: { address: '127.0.0.1:0', ...listener },
    },
    seal: {
      type: 'pkcs11',
      library: softHsmLibraryPath,
      token_label: token.label,
      pin_file: token.pinFile,
      key_label: 'coffer-wrap',
    },
    log: { file: join(dir, 'server.log') },
  };
  await writeFile(configFile, JSON.stringify(config));
  server = await startCofferServer(configFile, serverEnv());
}, processDeadlineMs);

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
  token?.cleanup();
});

describe('coffer server with a PKCS#11 seal (SoftHSM2)', () => {
  it('inits with an HSM key and recovery shares, and unseals itself after a restart', async () => {
    const init = JSON.parse(
      await ok([
        'operator',
        'init',
        '--generate-hsm-key',
        '--key-shares',
        '3',
        '--key-threshold',
        '2',
        '--format',
        'json',
      ]),
    ) as { keys: string[]; recovery_keys: string[]; root_token: string };
    expect(init.keys).toEqual([]);
    expect(init.recovery_keys).toHaveLength(3);
    expect((await coffer(['status'])).code).toBe(0);
    const rootFile = join(dir, 'root.token');
    await writeFile(rootFile, init.root_token, { mode: 0o600 });
    const asRoot = ['--token-file', rootFile];
    await ok(['secrets', 'enable', '--path', 'secret', 'kv', ...asRoot]);
    const valueFile = join(dir, 'value.txt');
    await writeFile(valueFile, canary, { mode: 0o600 });
    await ok(['kv', 'put', 'secret/app', `value=@${valueFile}`, ...asRoot]);

    expect(await server?.stop()).toBe(0);
    server = await startCofferServer(configFile, serverEnv());
    await untilUnsealed();
    const read = JSON.parse(
      await ok(['kv', 'get', 'secret/app', '--format', 'json', ...asRoot]),
    ) as { data: { data: Record<string, string> } };
    expect(read.data.data['value']).toBe(canary);

    const log = await readFile(join(dir, 'server.log'), 'utf8');
    expect(log).toContain('node_unsealed');
    for (const secret of [canary, init.root_token, token?.userPin ?? '', ...init.recovery_keys]) {
      expect(log).not.toContain(secret);
    }
  }, 240_000);
});
