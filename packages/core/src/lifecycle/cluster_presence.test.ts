/**
 * Goal: init makes the cluster CA and keeps its key only as barrier ciphertext; an unsealed
 * node holds a certificate naming its cluster and node id and no address, renews it before it
 * expires, loses it at seal and proves itself again at unseal with a fresh one; its verifier
 * accepts members and refuses non-members.
 * Method: a single-voter node on real LevelDB, the manual clock moved by the harness; the data
 * directory's files are scanned for the key material after init.
 */
import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { InMemoryNetwork, ManualClock } from '@coffer/raft/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { issueNodeCertificate } from '../cluster/certificates.ts';
import { readClusterAuthority } from '../cluster/cluster_authority.ts';
import type { ClusterTlsMaterial } from '../cluster/node_cluster_identity.ts';
import { Operation } from '../router/request.ts';
import type { CofferNode } from './coffer_node.ts';
import {
  closeOpenedNodes,
  drive,
  driveUntil,
  harnessEpochMs,
  openNode,
  removeRoot,
  singleNodeOptions,
  tempRoot,
  type Harness,
} from './lifecycle_harness.ts';

const harness: Harness = { root: '', clock: new ManualClock(), network: new InMemoryNetwork() };
const lifetimeMs = 60_000;

async function filesUnder(dir: string): Promise<Buffer[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return await Promise.all(
    entries.filter((e) => e.isFile()).map((e) => readFile(join(e.parentPath, e.name))),
  );
}

function pemBody(pem: string): string {
  return pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, '');
}

describe('a node on the cluster port', () => {
  let node: CofferNode;
  let clusterId = '';
  let shares: readonly string[] = [];
  let rootToken = '';
  const renewals: ClusterTlsMaterial[] = [];

  beforeAll(async () => {
    Object.assign(harness, { root: await tempRoot() });
    const options = singleNodeOptions(harness, { dir: 'a', seal: { type: 'shamir' } });
    node = await openNode(harness, {
      ...options,
      cluster: { certificateLifetimeMs: lifetimeMs },
    });
    const result = await drive(harness, node.init({ shares: 1, threshold: 1 }));
    clusterId = result.clusterId;
    shares = result.unsealShares;
    rootToken = result.rootToken ?? '';
    await driveUntil(harness, () => node.clusterIdentity !== undefined);
  });

  afterEach(() => undefined);

  afterAll(async () => {
    await closeOpenedNodes();
    await removeRoot(harness.root);
  });

  it('holds a certificate naming only coffer://<cluster>/node/1, issued by the cluster CA', () => {
    const material = node.clusterIdentity?.material();
    const cert = new X509Certificate(material?.certPem ?? '');
    expect(cert.subjectAltName).toBe(`URI:coffer://${clusterId}/node/1`);
    const ca = new X509Certificate(material?.trustPem ?? '');
    expect(cert.checkIssued(ca) && cert.verify(ca.publicKey)).toBe(true);
    expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBeLessThanOrEqual(
      lifetimeMs + 5 * 60_000,
    );
  });

  it('keeps the CA key and the node key out of the data directory in clear', async () => {
    const authority = readClusterAuthority(node.secureStore);
    const caKey = pemBody(authority?.authorities[0]?.keyPem ?? 'missing');
    const nodeKey = pemBody(node.clusterIdentity?.material().keyPem ?? 'missing');
    const files = await filesUnder(join(harness.root, 'a'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const text = file.toString('latin1');
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(caKey.slice(0, 40));
      expect(text).not.toContain(nodeKey.slice(0, 40));
    }
  });

  it('accepts a member and refuses a node outside the configuration', async () => {
    const identity = node.clusterIdentity;
    const own = new X509Certificate(identity?.material().certPem ?? '').raw;
    expect(identity?.verifyPeer(own, 1)).toBe(1);
    const authority = readClusterAuthority(node.secureStore);
    const stranger = await issueNodeCertificate(
      {
        certPem: authority?.authorities[0]?.certPem ?? '',
        keyPem: authority?.authorities[0]?.keyPem ?? '',
      },
      { clusterId, nodeId: 9, validMs: lifetimeMs, now: new Date(Date.UTC(2026, 10, 25)) },
    );
    expect(() => identity?.verifyPeer(new X509Certificate(stranger.certPem).raw)).toThrow(
      expect.objectContaining({ code: 'COFFER_CORE_REMOVED' }),
    );
  });

  it('renews its certificate at two-thirds of its life, before it expires', async () => {
    const identity = node.clusterIdentity;
    const before = identity?.material().certPem;
    const unsubscribe = identity?.onChange((material) => renewals.push(material));
    // NB: one jump to just past two-thirds of the life (a single voter has no one to lose).
    harness.clock.advance(Math.ceil((lifetimeMs * 2) / 3));
    await driveUntil(harness, () => renewals.length > 0);
    unsubscribe?.();
    expect(renewals[0]?.certPem).not.toBe(before);
    expect(identity?.material().certPem).toBe(renewals[0]?.certPem);
  });

  it('rotates the CA: both trusted, renewed under the new one at once, the old one retired after a lifetime', async () => {
    const identity = node.clusterIdentity;
    const oldCa = readClusterAuthority(node.secureStore)?.authorities[0];
    const rotated = await drive(
      harness,
      node.handle({
        operation: Operation.update,
        path: 'sys/storage/raft/rotate-ca',
        token: rootToken,
      }),
    );
    expect(rotated).toMatchObject({ ok: true, data: { trusted_cas: 2 } });
    const certificates = (pem: string | undefined): number =>
      (pem ?? '').split('BEGIN CERTIFICATE').length - 1;
    await driveUntil(harness, () => certificates(identity?.material().trustPem) === 2);
    const newCa = readClusterAuthority(node.secureStore)?.authorities[1];
    const own = new X509Certificate(identity?.material().certPem ?? '');
    expect(own.checkIssued(new X509Certificate(newCa?.certPem ?? ''))).toBe(true);
    const underOld = await issueNodeCertificate(
      { certPem: oldCa?.certPem ?? '', keyPem: oldCa?.keyPem ?? '' },
      { clusterId, nodeId: 1, validMs: 10 * lifetimeMs, now: new Date(Date.UTC(2026, 10, 25)) },
    );
    const oldDer = new X509Certificate(underOld.certPem).raw;
    expect(identity?.verifyPeer(oldDer)).toBe(1);

    harness.clock.advance(lifetimeMs);
    await driveUntil(harness, () => certificates(identity?.material().trustPem) === 1);
    expect(readClusterAuthority(node.secureStore)?.authorities).toHaveLength(1);
    expect(() => identity?.verifyPeer(oldDer)).toThrow(
      expect.objectContaining({ code: 'COFFER_CORE_CLUSTER_PEER_REFUSED' }),
    );
  });

  it('loses its certificate at seal, and after unseal gets a fresh one even when the old one expired meanwhile', async () => {
    const before = node.clusterIdentity?.material().certPem;
    await drive(harness, node.seal());
    expect(node.clusterIdentity).toBeUndefined();
    // Down (sealed) for longer than a certificate lives: the old one has expired.
    harness.clock.advance(2 * lifetimeMs);
    const wallNowMs = (): number => harnessEpochMs + harness.clock.nowMs();
    expect(Date.parse(new X509Certificate(before ?? '').validTo)).toBeLessThan(wallNowMs());
    for (const share of shares) {
      await drive(harness, node.submitUnsealShare(share));
    }
    await driveUntil(harness, () => node.clusterIdentity !== undefined);
    const fresh = node.clusterIdentity?.material().certPem ?? '';
    expect(fresh).not.toBe(before);
    const cert = new X509Certificate(fresh);
    expect(Date.parse(cert.validFrom)).toBeLessThanOrEqual(wallNowMs());
    expect(Date.parse(cert.validTo)).toBeGreaterThan(wallNowMs());
  });
});
