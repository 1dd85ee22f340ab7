/**
 * The cluster port's TLS credentials for grpc-js, fed from a node's {@link ClusterTls}: one
 * certificate provider pushes both the node's key and certificate and the trusted CAs, and
 * pushes them again after each renewal or CA rotation, so new connections handshake with the
 * new material while open ones keep theirs (as tls_identity.ts does for the API listener).
 *
 * NB: grpc-js asks for the latest material before it subscribes, and expects the first update
 * on a later tick (FileWatcherCertificateProvider does the same), hence process.nextTick.
 * NB: grpc-js drops every new connection while the latest material fails to load, so material
 * that does not load (a key that does not match its certificate, a bad PEM) is not pushed: the
 * old material keeps serving, and {@link ClusterCertificateProvider.rejectedUpdates} counts it.
 */
import { createSecureContext, type PeerCertificate } from 'node:tls';

import { experimental, type ChannelCredentials, type ServerCredentials } from '@grpc/grpc-js';

import type { ClusterTls, ClusterTlsMaterial } from './cluster_tls.ts';

type IdentityUpdate = experimental.IdentityCertificateUpdate;
type CaUpdate = experimental.CaCertificateUpdate;

function materialLoads(material: ClusterTlsMaterial): boolean {
  try {
    createSecureContext({ key: material.keyPem, cert: material.certPem, ca: material.trustPem });
    return true;
  } catch {
    return false;
  }
}

/** Both halves of a node's cluster TLS material, as one grpc-js certificate provider. */
export class ClusterCertificateProvider implements experimental.CertificateProvider {
  // NB: #private: the identity holds the private key, and a #private field never shows in
  // util.inspect or JSON.stringify (STYLE.md 4.5).
  #identity: IdentityUpdate;
  #ca: CaUpdate;
  #rejectedUpdates = 0;
  readonly #identityListeners = new Set<experimental.IdentityCertificateUpdateListener>();
  readonly #caListeners = new Set<experimental.CaCertificateUpdateListener>();
  readonly #unsubscribe: () => void;

  /** Serves `clusterTls.material()` now and whatever it announces later, until close(). */
  constructor(clusterTls: ClusterTls) {
    const material = clusterTls.material();
    this.#identity = {
      certificate: Buffer.from(material.certPem),
      privateKey: Buffer.from(material.keyPem),
    };
    this.#ca = { caCertificate: Buffer.from(material.trustPem) };
    this.#unsubscribe = clusterTls.onChange((next) => {
      this.#push(next);
    });
  }

  /** How many announced updates were not pushed because they do not load. */
  get rejectedUpdates(): number {
    return this.#rejectedUpdates;
  }

  /** Stops following the node's material; connections already made are unaffected. */
  close(): void {
    this.#unsubscribe();
  }

  #push(material: ClusterTlsMaterial): void {
    if (!materialLoads(material)) {
      this.#rejectedUpdates += 1;
      return;
    }
    this.#identity = {
      certificate: Buffer.from(material.certPem),
      privateKey: Buffer.from(material.keyPem),
    };
    this.#ca = { caCertificate: Buffer.from(material.trustPem) };
    for (const listener of this.#caListeners) {
      listener(this.#ca);
    }
    for (const listener of this.#identityListeners) {
      listener(this.#identity);
    }
  }

  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.#caListeners.add(listener);
    process.nextTick(() => {
      if (this.#caListeners.has(listener)) {
        listener(this.#ca);
      }
    });
  }

  removeCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.#identityListeners.add(listener);
    process.nextTick(() => {
      if (this.#identityListeners.has(listener)) {
        listener(this.#identity);
      }
    });
  }

  removeIdentityCertificateListener(
    listener: experimental.IdentityCertificateUpdateListener,
  ): void {
    this.#identityListeners.delete(listener);
  }
}

/**
 * Server credentials that require a client certificate from a trusted CA (the handshake refuses
 * anyone else; the call handler then checks the identity the certificate names).
 */
export function clusterServerCredentials(provider: ClusterCertificateProvider): ServerCredentials {
  // NB: grpc-js names the first parameter caCertificateProvider but uses it as the identity
  // provider (server-credentials.js); one provider serving both halves makes the order moot.
  return experimental.createCertificateProviderServerCredentials(provider, provider, true);
}

/**
 * Channel credentials for dialling node `peerId`: the chain is checked against the trusted CAs,
 * then `verifyPeer` must accept the server's certificate as naming `peerId`.
 *
 * NB: our certificates name a node in a URI SAN and carry no host name or address, so this
 * check replaces Node's host name check rather than following it.
 */
export function clusterChannelCredentials(
  provider: ClusterCertificateProvider,
  verifyPeer: (certificate: PeerCertificate) => Error | undefined,
): ChannelCredentials {
  return experimental.createCertificateProviderChannelCredentials(provider, provider, {
    checkServerIdentity: (_host, certificate) => verifyPeer(certificate),
  });
}
