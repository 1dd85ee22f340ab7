/**
 * Goal: `coffer server` as a real process: a config with bad fields is refused with each field
 * named on stderr; neither or both of --config and --dev is refused; `--dev` on free ports
 * starts, prints its addresses and files, writes the root token 0600 and never prints it, and
 * serves TLS with the CA it wrote; a --config server exits 0 on SIGTERM and its data is intact
 * when it is started again; SIGHUP with a rotated certificate makes new TLS connections see
 * the new certificate while an open connection stays open and the process keeps serving; a
 * secret-bearing environment variable or --inspect in NODE_OPTIONS refuses the start; the
 * running server's core file size limit is 0 (/proc/<pid>/limits) and kill -USR1 leaves its
 * inspector closed, also while it loads (the config is a FIFO the test holds open).
 * Method: the command spawned through tsx with the @coffer/source condition and a clean
 * environment (no secret-bearing variable); every wait is on output or the exit with a
 * deadline, never a fixed sleep. TLS is checked with raw node:tls connections (ALPN h2) and
 * node:https requests to the HTTP listener; certificates come from createSelfSignedTls. The
 * signal handling (SIGHUP reloads, a second stop signal forces exit 1) is also checked
 * in-process against a fake process and a server whose close the test finishes.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';

import { createSelfSignedTls } from '@coffer/api';
import { CofferClient } from '@coffer/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { untilStopped, type RunningServer } from './server_command.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const entry = fileURLToPath(new URL('./main.ts', import.meta.url));
const deadlineMs = 30_000;
const cleanEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: tmpdir() };

/** A running `coffer server`: its output so far, waits on it, signals and the exit. */
class ServerRun {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  #wake: (() => void)[] = [];

  constructor(args: readonly string[], env: NodeJS.ProcessEnv = cleanEnv) {
    this.#child = spawn(
      process.execPath,
      ['--conditions=@coffer/source', '--import', 'tsx', entry, 'server', ...args],
      { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      this.#notify();
    });
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.#notify();
    });
    this.exited = new Promise((resolve) => {
      this.#child.once('close', (code) => {
        this.#notify();
        resolve(code);
      });
    });
  }

  #notify(): void {
    const waiters = this.#wake;
    this.#wake = [];
    for (const wake of waiters) {
      wake();
    }
  }

  /** Resolves with the first match of `pattern` in stdout (or stderr); throws after the deadline. */
  async waitFor(pattern: RegExp, where: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpExecArray> {
    const started = performance.now();
    for (;;) {
      const match = pattern.exec(this[where]);
      if (match !== null) {
        return match;
      }
      if (performance.now() - started > deadlineMs || this.#child.exitCode !== null) {
        throw new Error(`No ${String(pattern)} on ${where}:\n${this.stdout}\n${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The process's core file size limit line from /proc/<pid>/limits. */
  coreLimit(): string {
    const limits = readFileSync(`/proc/${String(this.#child.pid)}/limits`, 'utf8');
    return limits.split('\n').find((line) => line.startsWith('Max core file size')) ?? '';
  }

  signal(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  /** Kills a process a failed test left running. */
  kill(): void {
    if (this.#child.exitCode === null) {
      this.#child.kill('SIGKILL');
    }
  }
}

/** The ALPN protocol each listener speaks. */
const alpn = { grpc: 'h2', http: 'http/1.1' } as const;

/** Opens a TLS connection and returns it once the handshake is done. */
function tlsConnect(
  address: string,
  options: { readonly protocol: string; readonly ca?: string },
): Promise<TLSSocket> {
  const { ca, protocol } = options;
  const [host, port] = splitAddress(address);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      servername: 'localhost',
      ALPNProtocols: [protocol],
      ...(ca === undefined ? { rejectUnauthorized: false } : { ca }),
    });
    socket.once('secureConnect', () => {
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

/** The SHA-256 fingerprint of the certificate a new TLS connection to `address` sees. */
async function servedFingerprint(address: string, protocol: string): Promise<string> {
  const socket = await tlsConnect(address, { protocol });
  const fingerprint = socket.getPeerCertificate().fingerprint256;
  socket.destroy();
  return fingerprint;
}

/** GET https://<address><path> trusting `ca`; the status and the parsed JSON body. */
function httpsGet(
  address: string,
  path: string,
  ca: string,
): Promise<{ status: number; body: unknown }> {
  const [host, port] = splitAddress(address);
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, ca, servername: 'localhost' }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as unknown });
      });
    });
    req.once('error', reject);
    req.end();
  });
}

/** Polls /v1/sys/health until the node is the active node (200); throws after the deadline. */
async function waitUntilActive(address: string, ca: string): Promise<void> {
  const started = performance.now();
  while ((await httpsGet(address, '/v1/sys/health', ca)).status !== 200) {
    if (performance.now() - started > deadlineMs) {
      throw new Error('The node did not become active');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let dir: string;
const runs: ServerRun[] = [];

function startServer(args: readonly string[], env?: NodeJS.ProcessEnv): ServerRun {
  const run = new ServerRun(args, env);
  runs.push(run);
  return run;
}

/** Writes a fresh self-signed certificate and key to cert.pem and key.pem; returns the cert. */
async function writeCertificate(): Promise<string> {
  const tls = await createSelfSignedTls({ hosts: ['localhost', '127.0.0.1'] });
  await writeFile(join(dir, 'cert.pem'), tls.certPem);
  await writeFile(join(dir, 'key.pem'), tls.keyPem, { mode: 0o600 });
  return tls.certPem;
}

async function writeConfig(name: string, document: Record<string, unknown>): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify(document));
  return file;
}

const serverConfig = {
  node_id: 1,
  storage: { path: 'data' },
  listeners: {
    grpc: { address: '127.0.0.1:0', tls_cert_file: 'cert.pem', tls_key_file: 'key.pem' },
    http: { address: '127.0.0.1:0' },
  },
  limits: { shutdown_grace_ms: 2000 },
};

/** The bound addresses a --config server printed. */
async function addressesOf(run: ServerRun): Promise<{ grpc: string; http: string }> {
  const grpc = (await run.waitFor(/gRPC API:\s+(\S+)/))[1] ?? '';
  const http = (await run.waitFor(/HTTP:\s+https:\/\/(\S+)/))[1] ?? '';
  return { grpc, http };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-server-cmd-'));
});

afterAll(async () => {
  for (const run of runs) {
    run.kill();
  }
  await rm(dir, { recursive: true, force: true });
});

describe('coffer server', { timeout: 90_000 }, () => {
  it('coffer server --config refuses bad fields and names each one on stderr', async () => {
    const file = await writeConfig('bad.json', {
      node_id: 0,
      storage: { path: 'data' },
      listeners: { grpc: { address: '8200', tls_cert_file: 'c', tls_key_file: 'k' } },
      seal: { type: 'pkcs11', pin: 'do-not-echo' },
    });
    const run = startServer(['--config', file]);
    expect(await run.exited).toBe(1);
    expect(run.stderr).toContain('COFFER_API_CONFIG_INVALID');
    expect(run.stderr).toContain('node_id: expected an integer ≥ 1 (got 0)');
    expect(run.stderr).toContain('listeners.grpc.address: expected "host:port"');
    expect(run.stderr).toContain('seal.pin: never write a PIN in the config');
    expect(run.stderr).not.toContain('do-not-echo');
    const missing = startServer(['--config', join(dir, 'absent.yaml')]);
    expect(await missing.exited).toBe(1);
    expect(missing.stderr).toContain('COFFER_API_CONFIG_UNREADABLE');
  });

  it('coffer server --config refuses to start with a secret in its environment', async () => {
    const file = await writeConfig('env.json', { ...serverConfig, storage: { path: 'd-env' } });
    await writeCertificate();
    const run = startServer(['--config', file], { ...cleanEnv, COFFER_TOKEN: 'env-secret-value' });
    expect(await run.exited).toBe(1);
    expect(run.stderr).toContain('COFFER_API_SECRET_IN_ENVIRONMENT');
    expect(run.stdout + run.stderr).not.toContain('env-secret-value');
    expect(existsSync(join(dir, 'd-env'))).toBe(false);
    const inspect = startServer(['--config', file], {
      ...cleanEnv,
      NODE_OPTIONS: '--inspect=127.0.0.1:0',
    });
    expect(await inspect.exited).toBe(1);
    expect(inspect.stderr).toContain('COFFER_API_DEBUGGER_REFUSED');
    expect(existsSync(join(dir, 'd-env'))).toBe(false);
  });

  it('coffer server refuses neither and both of --config and --dev, and unknown flags', async () => {
    const neither = startServer([]);
    expect(await neither.exited).toBe(1);
    expect(neither.stderr).toContain('Pass exactly one of --config <file> and --dev');
    const both = startServer(['--dev', '--config', join(dir, 'x.yaml')]);
    expect(await both.exited).toBe(1);
    expect(both.stderr).toMatch(/cannot be used with/);
    const secret = startServer(['--dev', '--root-token', 'flag-secret-value']);
    expect(await secret.exited).toBe(1);
    expect(secret.stderr).toContain("unknown option '--root-token'");
    expect(secret.stdout + secret.stderr).not.toContain('flag-secret-value');
  });

  it('coffer server --dev starts on free ports, prints its files and never prints the token', async () => {
    const run = startServer([
      '--dev',
      '--dev-listen-address',
      '127.0.0.1:0',
      '--dev-http-address',
      '127.0.0.1:0',
    ]);
    const tokenFile = (await run.waitFor(/Root token:\s+in (\S+)/))[1] ?? '';
    const caFile = (await run.waitFor(/CA cert:\s+(\S+)/))[1] ?? '';
    const { grpc, http } = await addressesOf(run);
    expect(run.stdout).toContain(`export COFFER_ADDR=${grpc} COFFER_CACERT=${caFile}`);
    expect(run.stdout).toContain(`--token-file ${tokenFile}`);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    const token = (await readFile(tokenFile, 'utf8')).trim();
    expect(token.length).toBeGreaterThan(10);
    const ca = await readFile(caFile, 'utf8');
    const socket = await tlsConnect(grpc, { protocol: alpn.grpc, ca });
    expect(socket.authorized).toBe(true);
    socket.destroy();
    const health = await httpsGet(http, '/v1/sys/health', ca);
    expect(health).toMatchObject({ status: 200, body: { initialized: true, sealed: false } });
    run.signal('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(existsSync(tokenFile)).toBe(false);
    expect(run.stdout + run.stderr).not.toContain(token);
  });

  it('coffer server --config exits 0 on SIGTERM and its data is intact when started again', async () => {
    await writeCertificate();
    const file = await writeConfig('coffer.json', serverConfig);
    const ca = await readFile(join(dir, 'cert.pem'), 'utf8');
    const first = startServer(['--config', file]);
    const before = await addressesOf(first);
    const client = new CofferClient({ address: before.grpc, caCert: ca, serverName: 'localhost' });
    const init = await client.sys.init({ secretShares: 1, secretThreshold: 1 });
    const share = (init.data['keys'] as string[])[0] ?? '';
    const token = init.data['root_token'] as string;
    await client.sys.unseal({ key: share });
    await client.mounts.enableSecrets({ path: 'secret', type: 'kv' }, { token });
    await client.kv.put({ path: 'app/db', data: { password: 'kept' } }, { token });
    client.close();
    first.signal('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.stdout).toContain('Stopped.');
    // The node reopens over the same data directory (its lock was released at close): sealed.
    const second = startServer(['--config', file]);
    const after = await addressesOf(second);
    expect(await httpsGet(after.http, '/v1/sys/seal-status', ca)).toMatchObject({
      body: { initialized: true, sealed: true },
    });
    const again = new CofferClient({ address: after.grpc, caCert: ca, serverName: 'localhost' });
    await again.sys.unseal({ key: share });
    await waitUntilActive(after.http, ca);
    const read = await again.kv.get({ path: 'app/db' }, { token });
    expect(read.data).toMatchObject({ data: { password: 'kept' } });
    again.close();
    second.signal('SIGINT');
    expect(await second.exited).toBe(0);
    expect(first.stdout + first.stderr + second.stdout + second.stderr).not.toContain(token);
  });

  it('coffer server keeps the inspector closed on SIGUSR1 while it loads, before its guard', async () => {
    await writeCertificate();
    const fifo = join(dir, 'early.json');
    execFileSync('mkfifo', [fifo]);
    const run = startServer(['--config', fifo]);
    // Opening a FIFO for writing waits for its reader: once open, the server is reading its
    // config, which comes before hardenProcess installs the logging guard.
    const writer = await open(fifo, 'w');
    run.signal('SIGUSR1');
    await writer.writeFile(JSON.stringify({ ...serverConfig, storage: { path: 'd-early' } }));
    await writer.close();
    const { http } = await addressesOf(run);
    const ca = await readFile(join(dir, 'cert.pem'), 'utf8');
    expect((await httpsGet(http, '/v1/sys/health', ca)).status).toBe(501);
    expect(run.stderr).not.toMatch(/Debugger listening|Starting inspector/);
    run.signal('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('coffer server reloads its certificate on SIGHUP without dropping open connections', async () => {
    const before = new X509Certificate(await writeCertificate()).fingerprint256;
    const file = await writeConfig('reload.json', { ...serverConfig, storage: { path: 'd2' } });
    const run = startServer(['--config', file]);
    const { grpc, http } = await addressesOf(run);
    expect(run.coreLimit()).toMatch(/^Max core file size\s+0\s+0\s/);
    expect(await servedFingerprint(grpc, alpn.grpc)).toBe(before);
    const open = await tlsConnect(http, { protocol: alpn.http });
    const after = new X509Certificate(await writeCertificate()).fingerprint256;
    expect(after).not.toBe(before);
    run.signal('SIGHUP');
    await run.waitFor(/"event":"server_reloaded"/, 'stderr');
    expect(await servedFingerprint(grpc, alpn.grpc)).toBe(after);
    expect(await servedFingerprint(http, alpn.http)).toBe(after);
    expect(open.destroyed).toBe(false);
    expect(open.getPeerCertificate().fingerprint256).toBe(before);
    open.destroy();
    const ca = await readFile(join(dir, 'cert.pem'), 'utf8');
    expect((await httpsGet(http, '/v1/sys/health', ca)).status).toBe(501);
    // kill -USR1 would open the inspector of a Node process without the guard the server
    // installs at start: here it is logged and the process goes on serving, with no debugger.
    run.signal('SIGUSR1');
    await run.waitFor(/"event":"inspector_signal_ignored"/, 'stderr');
    expect(run.stderr).not.toContain('Debugger listening');
    expect((await httpsGet(http, '/v1/sys/health', ca)).status).toBe(501);
    run.signal('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});

/** A fake process: records handlers and exits, and raises signals on demand. */
class FakeHost {
  readonly handlers = new Map<NodeJS.Signals, Set<() => void>>();
  readonly exits: number[] = [];

  on(signal: NodeJS.Signals, listener: () => void): void {
    const set = this.handlers.get(signal) ?? new Set();
    set.add(listener);
    this.handlers.set(signal, set);
  }

  off(signal: NodeJS.Signals, listener: () => void): void {
    this.handlers.get(signal)?.delete(listener);
  }

  exit(code: number): void {
    this.exits.push(code);
  }

  raise(signal: NodeJS.Signals): void {
    for (const listener of [...(this.handlers.get(signal) ?? [])]) {
      listener();
    }
  }

  count(): number {
    return [...this.handlers.values()].reduce((sum, set) => sum + set.size, 0);
  }
}

/** A fake server whose close() finishes when the test says so. */
function fakeServer(): RunningServer & { reloads: number; finishClose: (ok: boolean) => void } {
  let finish: (ok: boolean) => void = () => undefined;
  const closed = new Promise<void>((resolve, reject) => {
    finish = (ok) => {
      if (ok) {
        resolve();
      } else {
        reject(new Error('close failed'));
      }
    };
  });
  const server = {
    description: '',
    reloads: 0,
    reload: () => {
      server.reloads += 1;
      return Promise.resolve();
    },
    close: () => closed,
    finishClose: (ok: boolean) => {
      finish(ok);
    },
  };
  return server;
}

describe('untilStopped', () => {
  const io = { stdout: () => undefined, stderr: () => undefined };

  it('untilStopped reloads on SIGHUP and resolves 0 after a graceful close on SIGTERM', async () => {
    const host = new FakeHost();
    const server = fakeServer();
    const stopped = untilStopped(server, io, host);
    host.raise('SIGHUP');
    host.raise('SIGHUP');
    expect(server.reloads).toBe(2);
    host.raise('SIGTERM');
    server.finishClose(true);
    expect(await stopped).toBe(0);
    expect(host.exits).toEqual([]);
    expect(host.count()).toBe(0);
  });

  it('untilStopped forces exit 1 on a second stop signal while closing', async () => {
    const host = new FakeHost();
    const server = fakeServer();
    const stopped = untilStopped(server, io, host);
    host.raise('SIGINT');
    host.raise('SIGTERM');
    expect(host.exits).toEqual([1]);
    server.finishClose(false);
    expect(await stopped).toBe(1);
  });
});
