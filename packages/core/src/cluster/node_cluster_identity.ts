/**
 * One node's identity on the cluster port while it is unsealed: a key made in memory (never
 * stored, never sent), a short-lived certificate the node issues itself from the cluster CA in
 * its replica, renewed at two-thirds of its life and whenever the issuing CA changes, and the
 * check of peers against the trust bundle and the current membership.
 *
 * NB: a node whose certificate expired while it was down needs nothing special: unsealing it
 * proves it holds the barrier, and it issues itself a fresh certificate from its replica.
 */
import type { DriverClock } from '@coffer/raft/node';

import { CoreError, CoreErrorCode } from '../errors.ts';
import type { SecureStore } from '../replicated/secure_store.ts';
import { issueNodeCertificate } from './certificates.ts';
import {
  clusterAuthorityPath,
  issuingAuthority,
  readClusterAuthority,
  type ClusterAuthority,
} from './cluster_authority.ts';
import { ClusterPeerVerifier } from './peer_verification.ts';

/** The material of the cluster port, all PEM (the key is secret). */
export interface ClusterTlsMaterial {
  readonly keyPem: string;
  readonly certPem: string;
  readonly trustPem: string;
}

/** What the identity needs of its node. */
export interface NodeClusterIdentityOptions {
  readonly nodeId: number;
  readonly secure: SecureStore;
  /** Whether a node id is in the current Raft configuration (voter or learner). */
  readonly isMember: (nodeId: number) => boolean;
  readonly clock: DriverClock;
  /** Wall-clock ms since the epoch (certificate validity). */
  readonly wallClockMs: () => number;
  /** A node certificate's lifetime; default a day. */
  readonly certificateLifetimeMs?: number;
  /** Told when a renewal fails (it is retried); never given secret material. */
  readonly onRenewalFailed?: (error: unknown) => void;
  /**
   * What a join granted, for a node still sealed after joining (it cannot read the CA in its
   * replica): the key it made, the certificate the leader issued for it, the trust bundle. Such
   * an identity never renews; at unseal the node's presence replaces it with a self-issued one.
   */
  readonly granted?: GrantedIdentity;
}

/** A certificate from a join, for a node that has no replica (and so no CA) yet. */
export interface GrantedIdentity {
  readonly clusterId: string;
  readonly authoritiesPem: readonly string[];
  /** The joiner's own key. Secret. */
  readonly keyPem: string;
  readonly certPem: string;
}

/** A day, like the design's default; tests use a minute. */
export const certificateLifetimeMsDefault = 24 * 60 * 60 * 1000;
/** A failed renewal is retried this much later. */
const renewalRetryMs = 1000;

/** A node's cluster identity; start() once unsealed, stop() at seal. */
export class NodeClusterIdentity {
  readonly nodeId: number;
  readonly #options: NodeClusterIdentityOptions;
  readonly #listeners = new Set<(material: ClusterTlsMaterial) => void>();
  #material: ClusterTlsMaterial | undefined;
  #issuedUnder: string | undefined;
  /** The CA record's version the current certificate and trust bundle come from. */
  #authorityVersion: number | undefined;
  #verifier: { readonly version: number; readonly verifier: ClusterPeerVerifier } | undefined;
  #renewal: { cancel(): void } | undefined;
  #renewing: Promise<void> | undefined;
  #stopped = false;

  constructor(options: NodeClusterIdentityOptions) {
    this.nodeId = options.nodeId;
    this.#options = options;
  }

  /**
   * Issues the first certificate; throws COFFER_CORE_CLUSTER_IDENTITY_UNAVAILABLE without a CA.
   * With a granted identity, takes that one instead.
   */
  async start(): Promise<void> {
    this.#stopped = false;
    const granted = this.#options.granted;
    if (granted !== undefined) {
      this.#material = {
        keyPem: granted.keyPem,
        certPem: granted.certPem,
        trustPem: granted.authoritiesPem.join(''),
      };
      return;
    }
    await this.renew();
  }

  /** Forgets the key and certificate and stops renewing. */
  stop(): void {
    this.#stopped = true;
    this.#renewal?.cancel();
    this.#renewal = undefined;
    this.#material = undefined;
    this.#verifier = undefined;
  }

  /** Whether a certificate is in hand. */
  get ready(): boolean {
    return this.#material !== undefined;
  }

  /** The material to handshake with now. */
  material(): ClusterTlsMaterial {
    if (this.#material === undefined) {
      throw unavailable();
    }
    return this.#material;
  }

  /** Calls listener after every renewal; returns the unsubscribe. */
  onChange(listener: (material: ClusterTlsMaterial) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The node id a peer's certificate names; throws COFFER_CORE_CLUSTER_PEER_REFUSED when it is
   * not a current member's certificate of this cluster (see ClusterPeerVerifier).
   */
  verifyPeer(certificateDer: Uint8Array, expectedNodeId?: number): number {
    return this.#currentVerifier().verify(certificateDer, expectedNodeId);
  }

  /** Whether nodeId is in this node's current configuration (a voter or a learner). */
  isMember(nodeId: number): boolean {
    return this.#options.isMember(nodeId);
  }

  /** Issues a new certificate now (also after the CA changed) and tells the listeners. */
  renew(): Promise<void> {
    this.#renewing ??= this.#renewNow().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  /**
   * Renews now when the CA record changed since the last issue (a rotation or a retirement),
   * so this node's trust bundle and certificate follow it within one call. A granted identity
   * waits for unseal instead.
   */
  async followAuthority(): Promise<void> {
    if (this.#options.granted !== undefined || this.#material === undefined) {
      return;
    }
    if (this.#options.secure.versionLocal(clusterAuthorityPath) !== this.#authorityVersion) {
      await this.renew();
    }
  }

  async #renewNow(): Promise<void> {
    const version = this.#options.secure.versionLocal(clusterAuthorityPath);
    const authority = this.#authority();
    const issuer = issuingAuthority(authority);
    const lifetimeMs = this.#options.certificateLifetimeMs ?? certificateLifetimeMsDefault;
    const own = await issueNodeCertificate(issuer, {
      clusterId: authority.clusterId,
      nodeId: this.nodeId,
      validMs: lifetimeMs,
      now: new Date(this.#options.wallClockMs()),
    });
    if (this.#stopped) {
      return;
    }
    this.#material = {
      keyPem: own.keyPem,
      certPem: own.certPem,
      trustPem: authority.authorities.map((a) => a.certPem).join(''),
    };
    this.#issuedUnder = issuer.certPem;
    this.#authorityVersion = version;
    this.#schedule(Math.floor((lifetimeMs * 2) / 3));
    for (const listener of this.#listeners) {
      listener(this.#material);
    }
  }

  #schedule(delayMs: number): void {
    this.#renewal?.cancel();
    this.#renewal = this.#options.clock.setTimer(delayMs, () => {
      this.renew().catch((error: unknown) => {
        this.#options.onRenewalFailed?.(error);
        if (!this.#stopped) {
          this.#schedule(renewalRetryMs);
        }
      });
    });
  }

  #authority(): ClusterAuthority {
    const authority = readClusterAuthority(this.#options.secure);
    if (authority === undefined) {
      throw unavailable();
    }
    return authority;
  }

  /** The verifier of the CA record as applied here; rebuilt when the record changes. */
  #currentVerifier(): ClusterPeerVerifier {
    const granted = this.#options.granted;
    if (granted !== undefined) {
      this.#verifier ??= {
        version: 0,
        verifier: new ClusterPeerVerifier({
          clusterId: granted.clusterId,
          authoritiesPem: granted.authoritiesPem,
          isMember: this.#options.isMember,
          nowMs: this.#options.wallClockMs,
        }),
      };
      return this.#verifier.verifier;
    }
    const version = this.#options.secure.versionLocal(clusterAuthorityPath);
    if (version === undefined) {
      throw unavailable();
    }
    if (this.#verifier?.version !== version) {
      const authority = this.#authority();
      this.#verifier = {
        version,
        verifier: new ClusterPeerVerifier({
          clusterId: authority.clusterId,
          authoritiesPem: authority.authorities.map((a) => a.certPem),
          isMember: this.#options.isMember,
          nowMs: this.#options.wallClockMs,
        }),
      };
      if (
        this.#issuedUnder !== undefined &&
        issuingAuthority(authority).certPem !== this.#issuedUnder
      ) {
        // The CA rotated: renew under the new one (peers trust both meanwhile).
        this.renew().catch((error: unknown) => this.#options.onRenewalFailed?.(error));
      }
    }
    return this.#verifier.verifier;
  }
}

function unavailable(): CoreError {
  return new CoreError(
    CoreErrorCode.clusterIdentityUnavailable,
    'Unseal this node first: it has no cluster certificate while sealed or before the cluster CA reached it',
  );
}
