/**
 * Goal: the issue 8 end-to-end story on a real server process, driven only through the `coffer`
 * CLI and the client library: init with 5 shares and threshold 3, unseal with 3 shares given out
 * of order, write a policy limited to `secret/data/app/*`, create a token with it, read and write
 * inside, get permission denied outside, enable a file audit device and find the request there
 * with HMACed values only (and in the device the config declares, which the node enables by
 * itself), find the next request in a new file after a rename and SIGHUP (audit files are
 * reopened), seal, and get "sealed" on everything but status.
 * Method: `coffer server --config` runs as a child process (real LevelDB, real TLS sockets on
 * 127.0.0.1 with ports picked by the kernel); every `coffer` command is its own process with
 * COFFER_ADDR and COFFER_CACERT set and HOME in the test's directory; shares and values reach
 * the CLI on stdin or from files, never as arguments. Waits are on output lines and process
 * exits with deadlines, never sleeps.
 */
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createSelfSignedTls } from '@coffer/api';
import { CofferClient } from '@coffer/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  cleanEnv,
  processDeadlineMs,
  runCoffer,
  startCofferServer,
  waitFor,
  type Ran,
  type ServerProcess,
} from './coffer_processes.ts';

const canary = 'canary-e2e-value-5b1f0c';

let dir = '';
let server: ServerProcess | undefined;
let caFile = '';

/** Runs one `coffer` command against the server, with `stdin` as its input. */
function coffer(args: readonly string[], stdin = ''): Promise<Ran> {
  const env = cleanEnv(dir, {
    COFFER_ADDR: server?.grpcAddress ?? '',
    COFFER_CACERT: caFile,
  });
  return runCoffer(args, { env, stdin });
}

async function ok(args: readonly string[], stdin = ''): Promise<string> {
  const ran = await coffer(args, stdin);
  if (ran.code !== 0) {
    throw new Error(`coffer ${args.join(' ')} exited ${ran.code}: ${ran.stderr}`);
  }
  return ran.stdout;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-e2e-'));
  const tls = await createSelfSignedTls({ hosts: ['localhost', '127.0.0.1'] });
  caFile = join(dir, 'ca.pem');
  await writeFile(caFile, tls.certPem);
  await writeFile(join(dir, 'key.pem'), tls.keyPem, { mode: 0o600 });
  const config = [
    'node_id: 1',
    'storage:',
    `  path: ${join(dir, 'data')}`,
    'listeners:',
    '  grpc:',
    '    address: 127.0.0.1:0',
    `    tls_cert_file: ${caFile}`,
    `    tls_key_file: ${join(dir, 'key.pem')}`,
    '  http:',
    '    address: 127.0.0.1:0',
    `    tls_cert_file: ${caFile}`,
    `    tls_key_file: ${join(dir, 'key.pem')}`,
    'seal:',
    '  type: shamir',
    'audit:',
    '  - path: declared',
    `    file_path: ${join(dir, 'declared-audit.log')}`,
    'log:',
    `  file: ${join(dir, 'server.log')}`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'coffer.yaml'), config);
  server = await startCofferServer(join(dir, 'coffer.yaml'), cleanEnv(dir));
}, processDeadlineMs);

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('coffer server end to end (CLI and client library)', () => {
  it('init, unseal out of order, a scoped token, audit with HMACs only, then seal', async () => {
    const init = JSON.parse(
      await ok([
        'operator',
        'init',
        '--key-shares',
        '5',
        '--key-threshold',
        '3',
        '--format',
        'json',
      ]),
    ) as { keys: string[]; root_token: string };
    expect(init.keys).toHaveLength(5);
    const rootFile = join(dir, 'root.token');
    await writeFile(rootFile, init.root_token, { mode: 0o600 });
    expect((await coffer(['status'])).code).toBe(2);
    for (const index of [4, 0, 2]) {
      await ok(['operator', 'unseal'], `${init.keys[index]}\n`);
    }
    expect((await coffer(['status'])).code).toBe(0);

    const asRoot = ['--token-file', rootFile];
    await ok(['secrets', 'enable', '--path', 'secret', 'kv', ...asRoot]);
    const policy = 'path "secret/data/app/*" { capabilities = ["create", "read", "update"] }\n';
    await ok(['policy', 'write', 'app', '-', ...asRoot], policy);
    const created = JSON.parse(
      await ok(['token', 'create', '--policy', 'app', '--format', 'json', ...asRoot]),
    ) as { auth: { client_token: string } };
    const appFile = join(dir, 'app.token');
    await writeFile(appFile, created.auth.client_token, { mode: 0o600 });
    const asApp = ['--token-file', appFile];

    const auditFile = join(dir, 'audit.log');
    await ok(['audit', 'enable', 'file', '--file-path', auditFile, ...asRoot]);
    const valueFile = join(dir, 'value.txt');
    await writeFile(valueFile, canary, { mode: 0o600 });
    await ok(['kv', 'put', 'secret/app/db', `password=@${valueFile}`, ...asApp]);
    const got = JSON.parse(
      await ok(['kv', 'get', 'secret/app/db', '--format', 'json', ...asApp]),
    ) as { data: { data: Record<string, string> } };
    expect(got.data.data['password']).toBe(canary);
    const outside = await coffer(['kv', 'put', 'secret/other/x', 'a=b', ...asApp]);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toContain('COFFER_CORE_PERMISSION_DENIED');

    const client = new CofferClient({
      address: server?.grpcAddress ?? '',
      caCert: await readFile(caFile),
      token: created.auth.client_token,
    });
    try {
      const read = await client.kv.get({ path: 'app/db' });
      expect((read.data['data'] as Record<string, string>)['password']).toBe(canary);
      await expect(client.kv.get({ path: 'other/x' })).rejects.toMatchObject({
        code: 'COFFER_CORE_PERMISSION_DENIED',
      });

      const audit = await readFile(auditFile, 'utf8');
      expect(audit).toContain('secret/data/app/db');
      expect(audit).toContain('hmac-sha256:');
      expect(audit).not.toContain(canary);
      expect(audit).not.toContain(created.auth.client_token);
      // The device the config declares was enabled by the node itself at unseal.
      const declared = await readFile(join(dir, 'declared-audit.log'), 'utf8');
      expect(declared).toContain('secret/data/app/db');
      expect(declared).not.toContain(canary);

      // SIGHUP reopens the audit files: after a rename (log rotation) the next request lands in
      // a new file at the configured path, and the renamed one keeps what it had.
      await rename(auditFile, `${auditFile}.1`);
      server?.child.kill('SIGHUP');
      await waitFor('the server_reloaded log line', async () =>
        (await readFile(join(dir, 'server.log'), 'utf8')).includes('"event":"server_reloaded"'),
      );
      await ok(['kv', 'get', 'secret/app/db', ...asApp]);
      const reopened = await readFile(auditFile, 'utf8');
      expect(reopened).toContain('secret/data/app/db');
      expect(reopened).not.toContain(canary);
      expect((await readFile(`${auditFile}.1`, 'utf8')).startsWith(audit)).toBe(true);

      await ok(['operator', 'seal', ...asRoot]);
      expect((await coffer(['status'])).code).toBe(2);
      const sealed = await coffer(['kv', 'get', 'secret/app/db', ...asApp]);
      expect(sealed.code).toBe(2);
      expect(sealed.stderr).toContain('COFFER_CORE_SEALED');
      for (const args of [
        ['kv', 'put', 'secret/app/db', 'a=b'],
        ['kv', 'list', 'secret/'],
        ['policy', 'list'],
        ['token', 'lookup'],
        ['read', 'sys/mounts'],
        ['audit', 'list'],
      ]) {
        const refused = await coffer([...args, ...asRoot]);
        expect({ args, code: refused.code }).toEqual({ args, code: 2 });
        expect(refused.stderr).toContain('COFFER_CORE_SEALED');
      }
      await expect(client.kv.get({ path: 'app/db' })).rejects.toMatchObject({
        code: 'COFFER_CORE_SEALED',
      });
      const status = await client.sys.sealStatus();
      expect(status.data['sealed']).toBe(true);
    } finally {
      client.close();
    }
    const log = await readFile(join(dir, 'server.log'), 'utf8');
    expect(log).not.toContain(canary);
    expect(log).not.toContain(init.root_token);
    for (const key of init.keys) {
      expect(log).not.toContain(key);
    }
  }, 240_000);
});
