/**
 * The listener's TLS credentials as a certificate provider we push updates through
 * (grpc-js 1.14 `experimental.createCertificateProviderServerCredentials`): a reload swaps the
 * secure context that NEW connections handshake with, while open connections keep theirs.
 *
 * NB: grpc-js drops every new connection while the provider's latest context fails to load, so
 * a reload checks the key and certificate with tls.createSecureContext first and pushes them
 * only if they load (a mismatched key or a bad PEM leaves the old ones serving).
 * NB: grpc-js asks for the listener's context before it subscribes, so the current material is
 * delivered on the next tick after subscribing, as FileWatcherCertificateProvider does; the
 * port is not known to anyone before bindAsync resolves, so no connection sees that gap.
 */
import { createSecureContext } from 'node:tls';

import { experimental, type ServerCredentials } from '@grpc/grpc-js';

import { ApiError, ApiErrorCode } from '../errors.ts';

/** A PEM key and certificate (chain) of a listener. */
export interface TlsIdentity {
  /** The private key, PEM. Secret. */
  readonly keyPem: string;
  /** The certificate chain, PEM. */
  readonly certPem: string;
}

type IdentityUpdate = experimental.IdentityCertificateUpdate;
type CaUpdate = experimental.CaCertificateUpdate;

/** Checks that key and certificate load and match; throws COFFER_API_TLS_INVALID otherwise. */
export function checkTlsIdentity(identity: TlsIdentity): void {
  try {
    createSecureContext({ key: identity.keyPem, cert: identity.certPem });
  } catch (error) {
    throw new ApiError(
      ApiErrorCode.tlsInvalid,
      'Check the TLS key and certificate: they do not load as PEM or the key does not match the certificate',
      { cause: error },
    );
  }
}

/** A provider whose identity (and optional client CA) is pushed by the owner. */
class PushedProvider implements experimental.CertificateProvider {
  #identity: IdentityUpdate | null;
  #ca: CaUpdate | null;
  readonly #identityListeners = new Set<experimental.IdentityCertificateUpdateListener>();
  readonly #caListeners = new Set<experimental.CaCertificateUpdateListener>();

  constructor(identity: IdentityUpdate | null, ca: CaUpdate | null) {
    this.#identity = identity;
    this.#ca = ca;
  }

  pushIdentity(identity: IdentityUpdate): void {
    this.#identity = identity;
    for (const listener of this.#identityListeners) {
      listener(identity);
    }
  }

  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.#caListeners.add(listener);
    process.nextTick(listener, this.#ca);
  }

  removeCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.#identityListeners.add(listener);
    process.nextTick(listener, this.#identity);
  }

  removeIdentityCertificateListener(
    listener: experimental.IdentityCertificateUpdateListener,
  ): void {
    this.#identityListeners.delete(listener);
  }
}

function identityUpdateOf(identity: TlsIdentity): IdentityUpdate {
  return {
    certificate: Buffer.from(identity.certPem),
    privateKey: Buffer.from(identity.keyPem),
  };
}

/** The listener's credentials and the handle to reload them. */
export class ReloadableTls {
  // NB: #private, like the provider: grpc-js keeps the key in the credentials object, and a
  // private field never shows in util.inspect or JSON.stringify (STYLE.md 4.5).
  readonly #credentials: ServerCredentials;
  readonly #identity: PushedProvider;

  /**
   * Credentials serving `identity`; with `clientCaPem`, clients must present a certificate
   * that CA signed (mutual TLS).
   */
  constructor(identity: TlsIdentity, clientCaPem?: string) {
    checkTlsIdentity(identity);
    this.#identity = new PushedProvider(identityUpdateOf(identity), null);
    const ca =
      clientCaPem === undefined
        ? null
        : new PushedProvider(null, { caCertificate: Buffer.from(clientCaPem) });
    // NB: grpc-js names the first parameter caCertificateProvider but passes it on as the
    // identity provider (server-credentials.js); the identity goes first.
    this.#credentials = experimental.createCertificateProviderServerCredentials(
      this.#identity,
      ca,
      ca !== null,
    );
  }

  /** The credentials to bind the listener with. */
  get credentials(): ServerCredentials {
    return this.#credentials;
  }

  /** Serves `identity` to new connections; open ones keep theirs. Throws if it does not load. */
  reload(identity: TlsIdentity): void {
    checkTlsIdentity(identity);
    this.#identity.pushIdentity(identityUpdateOf(identity));
  }
}
