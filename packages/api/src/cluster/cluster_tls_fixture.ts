/**
 * Test material for the cluster channel: a cluster CA, node certificates from it, and the
 * certificates a peer must be refused for (another CA, expired, another node's, a non-member's).
 * Every key is made here at test time; none is ever committed.
 */
import {
  ClusterPeerVerifier,
  createCertificateAuthority,
  issueNodeCertificate,
  type TlsMaterial,
} from '@coffer/core';

import type { ClusterTls, ClusterTlsMaterial } from './cluster_tls.ts';

/** A node certificate's default lifetime in tests. */
const validMsDefault = 60 * 60 * 1000;

/** A cluster CA and what tests make from it. */
export interface ClusterTlsFixture {
  readonly clusterId: string;
  readonly authority: TlsMaterial;
  /** The members every node's verifier accepts; tests may change it. */
  readonly members: Set<number>;
  /** A ClusterTls for `nodeId` with a fresh certificate (or the given material). */
  tlsFor(nodeId: number, material?: TlsMaterial): Promise<FixtureClusterTls>;
  /** A certificate for `nodeId` from this CA. */
  certificateFor(nodeId: number, options?: { validMs?: number; now?: Date }): Promise<TlsMaterial>;
}

/** A ClusterTls whose material tests can swap (a renewal). */
export class FixtureClusterTls implements ClusterTls {
  readonly nodeId: number;
  #material: ClusterTlsMaterial;
  readonly #verifier: () => ClusterPeerVerifier;
  readonly #listeners = new Set<(material: ClusterTlsMaterial) => void>();

  readonly #members: ReadonlySet<number>;

  constructor(
    nodeId: number,
    material: ClusterTlsMaterial,
    parts: { readonly verifier: () => ClusterPeerVerifier; readonly members: ReadonlySet<number> },
  ) {
    this.nodeId = nodeId;
    this.#material = material;
    this.#verifier = parts.verifier;
    this.#members = parts.members;
  }

  isMember(nodeId: number): boolean {
    return this.#members.has(nodeId);
  }

  material(): ClusterTlsMaterial {
    return this.#material;
  }

  onChange(listener: (material: ClusterTlsMaterial) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  verifyPeer(certificateDer: Uint8Array, expectedNodeId?: number): number {
    return this.#verifier().verify(certificateDer, expectedNodeId);
  }

  /** Swaps in new material, as a renewal would. */
  renew(material: Partial<ClusterTlsMaterial>): void {
    this.#material = { ...this.#material, ...material };
    for (const listener of this.#listeners) {
      listener(this.#material);
    }
  }
}

/** A fixture with a new CA for cluster `clusterId`, whose members are `nodeIds`. */
export async function createClusterTlsFixture(options: {
  readonly nodeIds: readonly number[];
  readonly clusterId?: string;
}): Promise<ClusterTlsFixture> {
  const clusterId = options.clusterId ?? 'coffer-test-cluster';
  const authority = await createCertificateAuthority({ commonName: 'Coffer test cluster CA' });
  const members = new Set(options.nodeIds);
  const verifier = (): ClusterPeerVerifier =>
    new ClusterPeerVerifier({
      clusterId,
      authoritiesPem: [authority.certPem],
      isMember: (id) => members.has(id),
      nowMs: () => Date.now(),
    });
  const certificateFor = (
    nodeId: number,
    certificate: { validMs?: number; now?: Date } = {},
  ): Promise<TlsMaterial> =>
    issueNodeCertificate(authority, {
      clusterId,
      nodeId,
      validMs: certificate.validMs ?? validMsDefault,
      ...(certificate.now === undefined ? {} : { now: certificate.now }),
    });
  return {
    clusterId,
    authority,
    members,
    certificateFor,
    tlsFor: async (nodeId, material) => {
      const own = material ?? (await certificateFor(nodeId));
      return new FixtureClusterTls(
        nodeId,
        { keyPem: own.keyPem, certPem: own.certPem, trustPem: authority.certPem },
        { verifier, members },
      );
    },
  };
}

/** Material a peer must be refused for: from another CA (same cluster id and node id). */
export async function foreignCertificate(clusterId: string, nodeId: number): Promise<TlsMaterial> {
  const other = await createCertificateAuthority({ commonName: 'Another CA' });
  return await issueNodeCertificate(other, { clusterId, nodeId, validMs: validMsDefault });
}

/** Material that expired a minute ago (issued two hours back, valid for one). */
export function expiredCertificate(
  fixture: ClusterTlsFixture,
  nodeId: number,
): Promise<TlsMaterial> {
  const hourMs = 60 * 60 * 1000;
  return fixture.certificateFor(nodeId, {
    now: new Date(Date.now() - 2 * hourMs),
    validMs: hourMs - 60_000,
  });
}
