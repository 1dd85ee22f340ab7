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

import { silentServerLog } from '@coffer/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ApiErrorCode } from '../errors.ts';
import { createSelfSignedTls } from '../tls/self_signed.ts';
import { CofferServer } from './coffer_server.ts';
import { validateServerConfig, type ServerConfig } from './config.ts';

let dir: string;
let certPem: string;

function configFor(storage: string, grpcAddress = '127.0.0.1:0'): ServerConfig {
  return validateServerConfig(
    {
      node_id: 1,
      storage: { path: storage },
      listeners: {
        grpc: { address: grpcAddress, tls_cert_file: 'cert.pem', tls_key_file: 'key.pem' },
        http: { address: '127.0.0.1:0' },
      },
      limits: { shutdown_grace_ms: 1000 },
    },
    dir,
  );
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
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
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
    await expect(CofferServer.start(missing, { log: silentServerLog })).rejects.toMatchObject({
      code: ApiErrorCode.tlsInvalid,
    });
    expect(existsSync(join(dir, 'data-c'))).toBe(false);
  });

  it('CofferServer.start closes the node when its address is taken, so a retry can open it', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await expect(
      CofferServer.start(configFor('data-d', `127.0.0.1:${port}`), { log: silentServerLog }),
    ).rejects.toMatchObject({ code: ApiErrorCode.listenFailed });
    await new Promise<void>((resolve) =>
      blocker.close(() => {
        resolve();
      }),
    );
    const server = await CofferServer.start(configFor('data-d'), { log: silentServerLog });
    await server.close();
  });
});
