/**
 * The Shamir seal: the root key is wrapped by an unseal key that exists in memory only between
 * the moment a quorum of people submit their shares and the moment the root key is unwrapped.
 *
 * `initShamir` makes a fresh unseal key, splits it, wraps the root key under it and forgets it.
 * `createUnsealQuorum` collects shares; its verification is the unwrap itself, so a candidate
 * unseal key that does not decrypt the stored root key (AES-256-GCM with the cluster-bound
 * associated data) is never used.
 */
import { SecretKey } from '../barrier/secret_key.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { AttemptLimiter } from './attempt_limiter.ts';
import { unwrapWithKey, wrapWithKey } from './key_wrap.ts';
import { WrapPurpose, validateBinding } from './seal_binding.ts';
import {
  SealUnavailableReason,
  type SealBinding,
  type SealProvider,
  type SealStatus,
} from './seal_provider.ts';
import { splitSecret, validateShareConfig, type ShareConfig } from './shamir.ts';
import { ShareQuorum } from './share_quorum.ts';

/** The size of the root key, the unseal key and every other key in the seal. */
export const rootKeySizeBytes = 32;

/** A fresh random root key. The caller owns it and zeroes it when done. */
export function generateRootKey(): SecretKey {
  return SecretKey.generate(rootKeySizeBytes);
}

/**
 * A SealProvider over an unseal key that a quorum reconstructed. It owns the key it is given and
 * zeroes it on close.
 */
export class ShamirSeal implements SealProvider {
  readonly type = 'shamir';
  #unsealKey: SecretKey | undefined;

  /** Takes ownership of `unsealKey`. */
  constructor(unsealKey: SecretKey) {
    this.#unsealKey = unsealKey;
  }

  status(): SealStatus {
    if (this.#unsealKey === undefined) {
      return {
        state: 'unavailable',
        type: this.type,
        reason: SealUnavailableReason.awaitingShares,
        detail: 'Submit unseal shares: no unseal key is in memory',
      };
    }
    return { state: 'ready', type: this.type };
  }

  #key(): SecretKey {
    if (this.#unsealKey === undefined) {
      throw new CoreError(
        CoreErrorCode.sealUnavailable,
        'Cannot use the Shamir seal: it was closed (reason "closed"); submit unseal shares again',
      );
    }
    return this.#unsealKey;
  }

  async wrapRootKey(rootKey: SecretKey, binding: SealBinding): Promise<Buffer> {
    const purpose = WrapPurpose.rootKeyShamir;
    return Promise.resolve(wrapWithKey(this.#key(), rootKey, { purpose, binding }));
  }

  async unwrapRootKey(wrapped: Uint8Array, binding: SealBinding): Promise<SecretKey> {
    const purpose = WrapPurpose.rootKeyShamir;
    const rootKey = unwrapWithKey(this.#key(), wrapped, { purpose, binding });
    if (rootKey === undefined) {
      throw new CoreError(
        CoreErrorCode.rootKeyUnwrapFailed,
        'Cannot unwrap the root key with this unseal key: another key, another cluster, or tampering',
      );
    }
    return Promise.resolve(rootKey);
  }

  close(): Promise<void> {
    this.#unsealKey?.zero();
    this.#unsealKey = undefined;
    return Promise.resolve();
  }
}

/** What init hands back for a Shamir seal. Shares go to people; the rest is stored. */
export interface ShamirInitResult {
  /** The unseal key's shares, one per person. The caller zeroes them once delivered. */
  readonly shares: SecretKey[];
  /** The root key wrapped under the unseal key; store it. Not secret. */
  readonly wrappedRootKey: Buffer;
  /** The share config to store beside it (not secret). */
  readonly config: ShareConfig;
}

/**
 * Makes an unseal key, splits it per `config` and wraps `rootKey` under it. The unseal key is
 * zeroed before this returns; the caller keeps `rootKey`.
 */
export async function initShamir(
  rootKey: SecretKey,
  options: { readonly config: ShareConfig; readonly binding: SealBinding },
): Promise<ShamirInitResult> {
  validateShareConfig(options.config);
  validateBinding(options.binding);
  const unsealKey = SecretKey.generate(rootKeySizeBytes);
  try {
    const purpose = WrapPurpose.rootKeyShamir;
    const wrappedRootKey = wrapWithKey(unsealKey, rootKey, { purpose, binding: options.binding });
    const shares = await splitSecret(unsealKey, options.config);
    return { shares, wrappedRootKey, config: options.config };
  } finally {
    unsealKey.zero();
  }
}

/** What a quorum over stored, wrapped data needs. */
export interface StoredQuorumOptions {
  /** The config the shares were made with (stored at init). */
  readonly config: ShareConfig;
  /** The stored blob the candidate key must open. */
  readonly wrapped: Uint8Array;
  readonly binding: SealBinding;
  readonly limiter: AttemptLimiter;
  /** Nonce source for tests. */
  readonly newNonce?: () => string;
}

/**
 * A quorum that unseals: when T shares are in, the candidate unseal key must unwrap the stored
 * root key, which is the value it completes with (owned by the caller).
 */
export function createUnsealQuorum(options: StoredQuorumOptions): ShareQuorum<SecretKey> {
  const purpose = WrapPurpose.rootKeyShamir;
  return new ShareQuorum<SecretKey>({
    kind: 'unseal',
    config: options.config,
    limiter: options.limiter,
    ...(options.newNonce === undefined ? {} : { newNonce: options.newNonce }),
    open: (candidate) =>
      Promise.resolve(
        unwrapWithKey(candidate, options.wrapped, { purpose, binding: options.binding }),
      ),
  });
}
