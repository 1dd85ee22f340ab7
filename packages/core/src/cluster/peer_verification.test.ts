/**
 * Goal: a cluster peer is accepted only with a node certificate of this cluster's CA that is
 * valid now, names this cluster and a current member, and (when dialled) the node dialled; each
 * other case is refused with COFFER_CORE_CLUSTER_PEER_REFUSED and its reason.
 * Method: a real mutual-TLS handshake on 127.0.0.1 (node:tls, the server checks the client's
 * certificate after the handshake) for the accepted case and a foreign CA, and the verifier on
 * the DER of freshly issued certificates for every refusal. Keys are made per run.
 */
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';

import { beforeAll, describe, expect, it } from 'vitest';

import {
  createCertificateAuthority,
  createSelfSignedTls,
  issueCertificate,
  issueNodeCertificate,
  type TlsMaterial,
} from './certificates.ts';
import { ClusterPeerVerifier, PeerRefusal } from './peer_verification.ts';

const clusterId = 'coffer-0b6c1a52-9d55-4d8e-9a43-000000000001';
const hourMs = 60 * 60 * 1000;
let authority: TlsMaterial;
let verifier: ClusterPeerVerifier;
const members = new Set([1, 2, 3]);

function der(material: TlsMaterial): Uint8Array {
  return new X509Certificate(material.certPem).raw;
}

function node(id: number, options: { validMs?: number; now?: Date; cluster?: string } = {}) {
  return issueNodeCertificate(authority, {
    clusterId: options.cluster ?? clusterId,
    nodeId: id,
    validMs: options.validMs ?? hourMs,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
}

beforeAll(async () => {
  authority = await createCertificateAuthority({ commonName: 'Coffer test cluster CA' });
  verifier = new ClusterPeerVerifier({
    clusterId,
    authoritiesPem: [authority.certPem],
    isMember: (id) => members.has(id),
    nowMs: () => Date.now(),
  });
});

/** One mutual-TLS handshake; the server's verdict on the client, or the handshake error. */
async function handshake(server: TlsMaterial, client: TlsMaterial): Promise<number | Error> {
  const listener = tls.createServer({
    key: server.keyPem,
    cert: server.certPem,
    ca: authority.certPem,
    requestCert: true,
    rejectUnauthorized: true,
  });
  const verdict = new Promise<number | Error>((resolve) => {
    listener.on('secureConnection', (socket) => {
      try {
        resolve(verifier.verify(socket.getPeerCertificate().raw));
      } catch (error) {
        resolve(error as Error);
      }
      socket.end();
    });
    listener.on('tlsClientError', (error) => {
      resolve(error);
    });
  });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as AddressInfo;
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    key: client.keyPem,
    cert: client.certPem,
    ca: authority.certPem,
    // The server's certificate names a node, not 127.0.0.1: check its identity instead.
    checkServerIdentity: (_host, cert) => {
      try {
        verifier.verify(cert.raw, 1);
        return undefined;
      } catch (error) {
        return error as Error;
      }
    },
  });
  socket.on('error', () => undefined);
  try {
    return await verdict;
  } finally {
    socket.destroy();
    listener.close();
  }
}

describe('cluster peer verification', () => {
  it('accepts a member with a node certificate of the cluster CA over real mutual TLS', async () => {
    expect(await handshake(await node(1), await node(2))).toBe(2);
  });

  it('refuses a client whose certificate is from another CA in the TLS handshake itself', async () => {
    const other = await createCertificateAuthority();
    const foreign = await issueNodeCertificate(other, { clusterId, nodeId: 2, validMs: hourMs });
    const verdict = await handshake(await node(1), foreign);
    expect(verdict).toBeInstanceOf(Error);
    // ...and the verifier refuses it too, for a caller that let TLS skip the chain.
    expect(verifier.check(der(foreign))).toEqual({ ok: false, refusal: PeerRefusal.untrusted });
  });

  it('refuses an expired certificate, and one not yet valid', async () => {
    const expired = await node(2, { now: new Date(Date.now() - 2 * hourMs), validMs: 60_000 });
    expect(verifier.check(der(expired))).toEqual({ ok: false, refusal: PeerRefusal.expired });
    const future = await node(2, { now: new Date(Date.now() + 2 * hourMs) });
    expect(verifier.check(der(future))).toEqual({ ok: false, refusal: PeerRefusal.expired });
  });

  it('refuses another cluster, a non-member, and another node than the one dialled', async () => {
    const otherCluster = await node(2, { cluster: 'coffer-another' });
    expect(verifier.check(der(otherCluster))).toEqual({
      ok: false,
      refusal: PeerRefusal.otherCluster,
    });
    expect(verifier.check(der(await node(9)))).toEqual({
      ok: false,
      refusal: PeerRefusal.notMember,
    });
    const two = der(await node(2));
    expect(verifier.check(two, 3)).toEqual({ ok: false, refusal: PeerRefusal.otherNode });
    expect(verifier.check(two, 2)).toEqual({ ok: true, identity: { clusterId, nodeId: 2 } });
  });

  it('follows membership: a removed node is refused from the next check on', async () => {
    const three = der(await node(3));
    expect(verifier.check(three).ok).toBe(true);
    members.delete(3);
    try {
      expect(verifier.check(three)).toEqual({ ok: false, refusal: PeerRefusal.notMember });
    } finally {
      members.add(3);
    }
  });

  it('refuses the CA certificate itself, a host certificate, a self-signed one and garbage', async () => {
    expect(verifier.check(der(authority)).ok).toBe(false);
    const host = await issueCertificate(authority, { hosts: ['localhost'] });
    expect(verifier.check(der(host))).toEqual({ ok: false, refusal: PeerRefusal.noIdentity });
    const selfSigned = await createSelfSignedTls({ hosts: ['localhost'] });
    expect(verifier.check(der(selfSigned))).toEqual({ ok: false, refusal: PeerRefusal.untrusted });
    expect(verifier.check(new Uint8Array([0x30, 0x03, 1, 2, 3]))).toEqual({
      ok: false,
      refusal: PeerRefusal.unparsable,
    });
  });

  it('throws a coded error that names the reason and no certificate content', async () => {
    const other = await node(2, { cluster: 'coffer-another' });
    expect(() => verifier.verify(der(other))).toThrow(
      expect.objectContaining({
        code: 'COFFER_CORE_CLUSTER_PEER_REFUSED',
        message: expect.stringContaining('other_cluster') as string,
      }),
    );
    // A non-member is told so with its own code: it may have been removed.
    const nine = der(await node(9));
    expect(() => verifier.verify(nine)).toThrow(
      expect.objectContaining({
        code: 'COFFER_CORE_REMOVED',
        message: expect.stringContaining('not_member') as string,
      }),
    );
  });

  it('trusts two CAs during a rotation', async () => {
    const next = await createCertificateAuthority({ commonName: 'Coffer next CA' });
    const both = new ClusterPeerVerifier({
      clusterId,
      authoritiesPem: [authority.certPem, next.certPem],
      isMember: () => true,
      nowMs: () => Date.now(),
    });
    const underNext = await issueNodeCertificate(next, { clusterId, nodeId: 1, validMs: hourMs });
    expect(both.verify(der(underNext))).toBe(1);
    expect(both.verify(der(await node(1)))).toBe(1);
    expect(verifier.check(der(underNext)).ok).toBe(false);
  });
});
