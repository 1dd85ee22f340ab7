/**
 * What a node says about itself, unauthenticated (Vault's sys/seal-status): sealed or not,
 * initialized or not, the seal type, unseal progress (n of t, with the attempt's nonce) and,
 * for an HSM seal, why it cannot unseal right now.
 *
 * Invariant: built only from non-secret data (counts, nonces, reason codes, the cluster id), so
 * it is safe to print, log and serve; the canary tests scan it.
 */
import type { QuorumProgress } from '../seal/share_quorum.ts';
import type { SealStatus, SealType } from '../seal/seal_provider.ts';

/** Unseal progress of a Shamir node. */
export interface UnsealProgress {
  readonly threshold: number;
  readonly shares: number;
  readonly progress: number;
  readonly nonce: string | undefined;
}

/** The status of one node. */
export interface NodeStatus {
  /** True once this node's state holds the cluster's keyring. */
  readonly initialized: boolean;
  /** True while the barrier holds no key. */
  readonly sealed: boolean;
  /** The seal type the node is configured with. */
  readonly sealType: SealType;
  /** The seal type stored at init, when it differs from the configured one (migration). */
  readonly storedSealType: SealType | undefined;
  readonly clusterId: string | undefined;
  /** Whether this node runs Raft (a node with a keyring waits until it is unsealed). */
  readonly raftRunning: boolean;
  /** Shamir nodes: the current unseal attempt (progress 0 and no nonce when none). */
  readonly unseal: UnsealProgress | undefined;
  /** HSM nodes: the seal's state, with a reason code and detail when it is unavailable. */
  readonly seal: SealStatus | undefined;
  /** HSM nodes: the code of the error that stopped automatic unsealing, if one did. */
  readonly autoUnsealFailure: string | undefined;
  /** A seal migration attempt is collecting shares on this node (the active node). */
  readonly sealMigrationRunning: boolean;
}

/** The public part of a quorum's progress. */
export function unsealProgressOf(progress: QuorumProgress): UnsealProgress {
  return {
    threshold: progress.threshold,
    shares: progress.shares,
    progress: progress.progress,
    nonce: progress.nonce,
  };
}
