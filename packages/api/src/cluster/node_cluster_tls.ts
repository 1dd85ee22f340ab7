/**
 * The ClusterTls of a server's node: it follows whichever identity the node holds now (the one
 * a join granted, then the self-issued one after unseal, each renewed in turn) and tells the
 * cluster port's credentials about every change, so one certificate provider serves the
 * node's whole life on the cluster port.
 */
import { CoreError, CoreErrorCode, type NodeClusterIdentity } from '@coffer/core';

import type { ClusterTls, ClusterTlsMaterial } from './cluster_tls.ts';

/** A ClusterTls over the node's current identity. */
export class NodeClusterTls implements ClusterTls {
  readonly nodeId: number;
  #identity: NodeClusterIdentity | undefined;
  #unsubscribe: (() => void) | undefined;
  readonly #listeners = new Set<(material: ClusterTlsMaterial) => void>();

  constructor(nodeId: number) {
    this.nodeId = nodeId;
  }

  /** Whether an identity is in hand. */
  get ready(): boolean {
    return this.#identity !== undefined;
  }

  /** Follows `identity` from now on (undefined: the node sealed). */
  set(identity: NodeClusterIdentity | undefined): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#identity = identity;
    if (identity === undefined) {
      return;
    }
    this.#unsubscribe = identity.onChange((material) => {
      this.#announce(material);
    });
    this.#announce(identity.material());
  }

  material(): ClusterTlsMaterial {
    return this.#current().material();
  }

  onChange(listener: (material: ClusterTlsMaterial) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  verifyPeer(certificateDer: Uint8Array, expectedNodeId?: number): number {
    return this.#current().verifyPeer(certificateDer, expectedNodeId);
  }

  /**
   * NB: true while this node holds no identity (between a seal and an unseal, or the granted
   * identity giving way to its own): membership is unknown then, and a stream admitted under a
   * checked identity is not ended on a guess.
   */
  isMember(nodeId: number): boolean {
    return this.#identity?.isMember(nodeId) ?? true;
  }

  #announce(material: ClusterTlsMaterial): void {
    for (const listener of this.#listeners) {
      listener(material);
    }
  }

  #current(): NodeClusterIdentity {
    if (this.#identity === undefined) {
      throw new CoreError(
        CoreErrorCode.clusterIdentityUnavailable,
        'Unseal this node first: it has no cluster certificate yet',
      );
    }
    return this.#identity;
  }
}
