/**
 * What the cluster channel needs of a node's cluster identity: its current key and certificate,
 * the CAs it trusts, a signal when they change (renewal, CA rotation), and the check that a
 * peer's certificate names a current member of this cluster.
 *
 * NB: Node's TLS verifies the chain during the handshake; verifyPeer repeats the chain check and
 * adds what TLS cannot know (the cluster id, the node id, membership), on both ends.
 */

/** The TLS material of one node on the cluster port, all PEM. */
export interface ClusterTlsMaterial {
  /** This node's private key. Secret: never logged, never sent. */
  readonly keyPem: string;
  /** This node's certificate. */
  readonly certPem: string;
  /** Every CA certificate the cluster trusts now (one, or two during a rotation). */
  readonly trustPem: string;
}

/** A node's cluster identity, as the cluster channel sees it. */
export interface ClusterTls {
  /** This node's id. */
  readonly nodeId: number;
  /** The material to handshake with now. */
  material(): ClusterTlsMaterial;
  /** Calls listener with new material after each renewal or trust change; returns unsubscribe. */
  onChange(listener: (material: ClusterTlsMaterial) => void): () => void;
  /**
   * Checks a peer's certificate (DER) and returns the node id it names. Throws a CoreError with
   * code COFFER_CORE_CLUSTER_PEER_REFUSED when it is not from a trusted CA, has expired, names
   * another cluster, names a node that is not a member, or names another node than
   * expectedNodeId (when the caller dialled a particular node).
   */
  verifyPeer(certificateDer: Uint8Array, expectedNodeId?: number): number;
  /** Whether nodeId is in this node's current configuration (a voter or a learner). */
  isMember(nodeId: number): boolean;
}
