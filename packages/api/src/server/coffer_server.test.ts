/**
 * Goal: CofferServer starts a node and both TLS listeners on free ports, reports the bound
 * addresses, closes gracefully and releases the data directory; a reload with a broken
 * certificate keeps the old one and reports the failure; a start that cannot read its TLS
 * files or bind its address leaves nothing behind.
 * Method: real LevelDB in a mkdtemp directory, real TLS listeners on 127.0.0.1 port 0, TLS
 * material from createSelfSignedTls written to files; certificates checked through raw
 * node:tls connections. No sleeps: every wait is on a promise.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';

import { silentServerLog, type ServerLog } from '@coffer/core';
import { experimental, logVerbosity } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { ApiErrorCode } from '../errors.ts';
import { createSelfSignedTls } from '@coffer/core';
import { CofferServer } from './coffer_server.ts';
import { validateServerConfig, type ServerConfig } from './config.ts';

let dir: string;
let certPem: string;

/** A config over `dir`; `listeners` fields are laid over the defaults (port 0, cert.pem). */
function configFor(
  storage: string,
  listeners: { grpc?: object; http?: object } = {},
): ServerConfig {
  return validateServerConfig(
    {
      node_id: 1,
      storage: { path: storage },
      listeners: {
        grpc: {
          address: '127.0.0.1:0',
          tls_cert_file: 'cert.pem',
          tls_key_file: 'key.pem',
          ...listeners.grpc,
        },
        http: { address: '127.0.0.1:0', ...listeners.http },
      },
      limits: { shutdown_grace_ms: 1000 },
    },
    dir,
  );
}

/** A TCP server holding a free port of 127.0.0.1, so a listener cannot bind it. */
async function portBlocker(): Promise<{ port: number; close: () => Promise<void> }> {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const address = blocker.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        blocker.close(() => {
          resolve();
        });
      }),
  };
}

/** The message of the error `promise` rejects with (after checking its code). */
async function rejection(promise: Promise<unknown>, code: string): Promise<string> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (caught: unknown) => caught,
  );
  expect(error).toMatchObject({ code });
  return (error as Error).message;
}

/** A server log that keeps its lines. */
function recordingLog(): ServerLog & { lines: { level: string; event: string; fields: object }[] } {
  const lines: { level: string; event: string; fields: object }[] = [];
  const record =
    (level: string) =>
    (event: string, fields: object = {}): void => {
      lines.push({ level, event, fields });
    };
  return { lines, info: record('info'), warn: record('warn'), error: record('error') };
}

/** The SHA-256 fingerprint a new TLS connection to 127.0.0.1:port sees. */
function fingerprintAt(port: number, protocol: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      rejectUnauthorized: false,
      ALPNProtocols: [protocol],
    });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-server-'));
  const tls = await createSelfSignedTls({ hosts: ['localhost', '127.0.0.1'] });
  certPem = tls.certPem;
  await writeFile(join(dir, 'cert.pem'), tls.certPem);
  await writeFile(join(dir, 'key.pem'), tls.keyPem, { mode: 0o600 });
  const other = await createSelfSignedTls({ hosts: ['localhost'] });
  await writeFile(join(dir, 'other-key.pem'), other.keyPem, { mode: 0o600 });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('CofferServer', { timeout: 60_000 }, () => {
  it('CofferServer.start serves TLS on the bound ports and close releases the data directory', async () => {
    const config = configFor('data-a');
    const server = await CofferServer.start(config, { log: silentServerLog });
    const { grpc, http } = server.addresses();
    expect(grpc).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(portOf(grpc)).toBeGreaterThan(0);
    const expected = new X509Certificate(certPem).fingerprint256;
    expect(await fingerprintAt(portOf(grpc), 'h2')).toBe(expected);
    expect(await fingerprintAt(portOf(http), 'http/1.1')).toBe(expected);
    expect(server.node.status()).toMatchObject({ initialized: false });
    await Promise.all([server.close(), server.close()]);
    const again = await CofferServer.start(config, { log: silentServerLog });
    await again.close();
  });

  it('CofferServer.reload keeps the old certificate and reports a TLS file that does not load', async () => {
    const config = configFor('data-b');
    const broken = {
      ...config,
      listeners: {
        grpc: { ...config.listeners.grpc, tlsCertFile: join(dir, 'broken.pem') },
        http: { ...config.listeners.http, tlsCertFile: join(dir, 'broken.pem') },
      },
    };
    await writeFile(join(dir, 'broken.pem'), certPem);
    const server = await CofferServer.start(broken, { log: silentServerLog });
    await writeFile(join(dir, 'broken.pem'), 'not a certificate');
    const outcome = await server.reload();
    expect(outcome.tlsReloaded).toEqual([]);
    expect(outcome.failures).toEqual([
      { what: 'grpc_tls', code: ApiErrorCode.tlsInvalid },
      { what: 'http_tls', code: ApiErrorCode.tlsInvalid },
    ]);
    const expected = new X509Certificate(certPem).fingerprint256;
    expect(await fingerprintAt(portOf(server.addresses().grpc), 'h2')).toBe(expected);
    await writeFile(join(dir, 'broken.pem'), certPem);
    expect((await server.reload()).tlsReloaded).toEqual(['grpc', 'http']);
    await server.close();
  });

  it('CofferServer.start refuses unreadable TLS files before it touches the data directory', async () => {
    const config = configFor('data-c');
    const missing = {
      ...config,
      listeners: {
        ...config.listeners,
        grpc: { ...config.listeners.grpc, tlsKeyFile: join(dir, 'absent-key.pem') },
      },
    };
    const message = await rejection(
      CofferServer.start(missing, { log: silentServerLog }),
      ApiErrorCode.tlsInvalid,
    );
    expect(message.split(': it does not exist')[0]).toBe(
      `listeners.grpc.tls_key_file: cannot read "${join(dir, 'absent-key.pem')}"`,
    );
    expect(existsSync(join(dir, 'data-c'))).toBe(false);
  });

  it('CofferServer.start names the HTTP listener field of a key that does not match', async () => {
    const config = configFor('data-e', { http: { tls_key_file: 'other-key.pem' } });
    const message = await rejection(
      CofferServer.start(config, { log: silentServerLog }),
      ApiErrorCode.tlsInvalid,
    );
    expect(message).toContain(
      `listeners.http.tls_key_file: cannot use "${join(dir, 'other-key.pem')}": it does not ` +
        `belong to the certificate in "${join(dir, 'cert.pem')}" (listeners.grpc.tls_cert_file)`,
    );
    expect(existsSync(join(dir, 'data-e'))).toBe(false);
  });

  it('CofferServer.start closes the node when its address is taken, so a retry can open it', async () => {
    const blocker = await portBlocker();
    const stderr = vi.spyOn(process.stderr, 'write');
    const consoleError = vi.spyOn(console, 'error');
    const log = recordingLog();
    const address = `127.0.0.1:${String(blocker.port)}`;
    const message = await rejection(
      CofferServer.start(configFor('data-d', { grpc: { address } }), { log }),
      ApiErrorCode.listenFailed,
    );
    expect(message).toMatch(
      new RegExp(`^listeners\\.grpc\\.address: cannot listen on "${address}": it is in use`),
    );
    expect([...stderr.mock.calls, ...consoleError.mock.calls]).toEqual([]);
    expect(log.lines.filter((line) => line.level === 'error')).toEqual([]);
    await blocker.close();
    const server = await CofferServer.start(configFor('data-d'), { log: silentServerLog });
    await server.close();
  });

  it('CofferServer.start names the HTTP listener address when that one is taken', async () => {
    const blocker = await portBlocker();
    const address = `127.0.0.1:${String(blocker.port)}`;
    const message = await rejection(
      CofferServer.start(configFor('data-f', { http: { address } }), { log: silentServerLog }),
      ApiErrorCode.listenFailed,
    );
    await blocker.close();
    expect(message).toMatch(
      new RegExp(`^listeners\\.http\\.address: cannot listen on "${address}": it is in use`),
    );
  });

  it('CofferServer.start routes grpc-js errors to the server log, without what follows a colon', async () => {
    const log = recordingLog();
    const consoleError = vi.spyOn(console, 'error');
    const server = await CofferServer.start(configFor('data-g'), { log });
    try {
      experimental.log(logVerbosity.ERROR, 'Failed to add metadata entry authorization: s.hidden');
      experimental.log(logVerbosity.INFO, 'an info line');
      expect(consoleError.mock.calls).toEqual([]);
      expect(log.lines.filter((line) => line.event === 'grpc_library_error')).toEqual([
        {
          level: 'error',
          event: 'grpc_library_error',
          fields: { message: 'Failed to add metadata entry authorization' },
        },
      ]);
    } finally {
      await server.close();
    }
  });
});
