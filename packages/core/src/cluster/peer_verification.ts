/**
 * Who is on the other end of a cluster connection. Node's TLS verifies the chain during the
 * handshake; this check runs after it, on both ends, and decides from the certificate alone:
 *
 *   issued by a CA of the trust bundle (signature checked here again, so a caller that let TLS
 *   skip verification is still safe) ─▶ within its validity, and so is the CA ─▶ a leaf, not a
 *   CA ─▶ exactly one URI SAN naming a node of THIS cluster ─▶ that node is a member now ─▶
 *   and is the node the caller dialled, when it dialled one.
 *
 * NB: node:crypto's X509Certificate does the parsing and the signature check; nothing here
 * parses DER by hand.
 */
import { X509Certificate } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../errors.ts';
import { parseNodeIdentityUri, type NodeIdentity } from './node_identity_uri.ts';

/** What a node trusts on the cluster port now. */
export interface ClusterTrust {
  /** This node's cluster. */
  readonly clusterId: string;
  /** The CA certificates of the trust bundle, PEM (one, or two while the CA rotates). */
  readonly authoritiesPem: readonly string[];
  /** Whether a node id is in the current configuration (voter or learner). */
  readonly isMember: (nodeId: number) => boolean;
  /** Wall-clock ms since the epoch, for validity. */
  readonly nowMs: () => number;
}

/** Why a peer was refused; stable strings for logs and metrics. */
export const PeerRefusal = {
  unparsable: 'unparsable',
  untrusted: 'untrusted',
  expired: 'expired',
  notLeaf: 'not_leaf',
  noIdentity: 'no_identity',
  otherCluster: 'other_cluster',
  notMember: 'not_member',
  otherNode: 'other_node',
} as const;
export type PeerRefusal = (typeof PeerRefusal)[keyof typeof PeerRefusal];

/** The outcome of checking one certificate. */
export type PeerCheck =
  | { readonly ok: true; readonly identity: NodeIdentity }
  | { readonly ok: false; readonly refusal: PeerRefusal };

const refusalActions: Record<PeerRefusal, string> = {
  [PeerRefusal.unparsable]: 'its certificate does not parse',
  [PeerRefusal.untrusted]: 'its certificate is not from this cluster’s CA',
  [PeerRefusal.expired]: 'its certificate (or the CA that issued it) is not valid now',
  [PeerRefusal.notLeaf]: 'it presented a CA certificate, not a node certificate',
  [PeerRefusal.noIdentity]: 'its certificate names no Coffer node identity',
  [PeerRefusal.otherCluster]: 'its certificate belongs to another cluster',
  [PeerRefusal.notMember]: 'its node id is not in the current configuration',
  [PeerRefusal.otherNode]: 'its certificate names another node than the one dialled',
};

/** Checks peer certificates against one trust bundle. */
export class ClusterPeerVerifier {
  readonly #trust: ClusterTrust;
  readonly #authorities: readonly X509Certificate[];

  constructor(trust: ClusterTrust) {
    this.#trust = trust;
    this.#authorities = trust.authoritiesPem.map((pem) => new X509Certificate(pem));
  }

  /** Checks `certificateDer`; with expectedNodeId, the certificate must name that node. */
  check(certificateDer: Uint8Array, expectedNodeId?: number): PeerCheck {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certificateDer);
    } catch {
      return refuse(PeerRefusal.unparsable);
    }
    const issuer = this.#authorities.find(
      (ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey),
    );
    if (issuer === undefined) {
      return refuse(PeerRefusal.untrusted);
    }
    const nowMs = this.#trust.nowMs();
    if (!isValidAt(cert, nowMs) || !isValidAt(issuer, nowMs)) {
      return refuse(PeerRefusal.expired);
    }
    if (cert.ca) {
      return refuse(PeerRefusal.notLeaf);
    }
    const identity = identityOf(cert);
    if (identity === undefined) {
      return refuse(PeerRefusal.noIdentity);
    }
    if (identity.clusterId !== this.#trust.clusterId) {
      return refuse(PeerRefusal.otherCluster);
    }
    if (!this.#trust.isMember(identity.nodeId)) {
      return refuse(PeerRefusal.notMember);
    }
    if (expectedNodeId !== undefined && identity.nodeId !== expectedNodeId) {
      return refuse(PeerRefusal.otherNode);
    }
    return { ok: true, identity };
  }

  /** The node id `certificateDer` names; throws COFFER_CORE_CLUSTER_PEER_REFUSED otherwise. */
  verify(certificateDer: Uint8Array, expectedNodeId?: number): number {
    const checked = this.check(certificateDer, expectedNodeId);
    if (!checked.ok) {
      throw peerRefusedError(checked.refusal);
    }
    return checked.identity.nodeId;
  }
}

/** The error for a refused peer; the message says why, never what the certificate holds. */
export function peerRefusedError(refusal: PeerRefusal): CoreError {
  if (refusal === PeerRefusal.notMember) {
    // NB: its own code, so the refused node learns it is no member (removed, or its join has
    // not reached this peer yet) rather than that its certificate is bad.
    return new CoreError(
      CoreErrorCode.removed,
      "Join the node again with a new join token: it is not in this cluster's configuration (not_member)",
    );
  }
  return new CoreError(
    CoreErrorCode.clusterPeerRefused,
    `Give the peer a certificate from this cluster (join it again if it was removed): ${refusalActions[refusal]} (${refusal})`,
  );
}

function refuse(refusal: PeerRefusal): PeerCheck {
  return { ok: false, refusal };
}

function isValidAt(cert: X509Certificate, nowMs: number): boolean {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  return Number.isFinite(from) && Number.isFinite(to) && from <= nowMs && nowMs <= to;
}

/** The one node identity URI of a certificate; more than one SAN, or another kind, is none. */
function identityOf(cert: X509Certificate): NodeIdentity | undefined {
  const names = cert.subjectAltName?.split(', ') ?? [];
  const [only, ...more] = names;
  if (only === undefined || more.length > 0 || !only.startsWith('URI:')) {
    return undefined;
  }
  return parseNodeIdentityUri(only.slice('URI:'.length));
}
