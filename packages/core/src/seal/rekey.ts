/**
 * Rekey of a Shamir seal: new shares and threshold, authorized by a quorum of the current shares.
 * The candidate unseal key must unwrap the stored root key (that is the authorization); then a
 * new unseal key is made and split, and the same root key is wrapped under it. The root key does
 * not change, so the keyring and every stored value stay as they are: nothing is re-encrypted.
 *
 * NB: the old wrapped root key stays valid for the old shares until the caller replaces it in
 * storage. Store the new one before handing out the new shares (docs/design/seal.md, "Rekey").
 */
import { WrapPurpose } from './seal_binding.ts';
import { initShamir, type ShamirInitResult, type StoredQuorumOptions } from './shamir_seal.ts';
import { validateShareConfig, type ShareConfig } from './shamir.ts';
import { unwrapWithKey } from './key_wrap.ts';
import { ShareQuorum } from './share_quorum.ts';

/** The outcome of a rekey: new shares, the root key wrapped anew, the new config. */
export type RekeyResult = ShamirInitResult;

/** Options for {@link createRekeyQuorum}: the current seal's data and the config to move to. */
export interface RekeyOptions extends StoredQuorumOptions {
  /** The new share count and threshold. */
  readonly next: ShareConfig;
}

/**
 * A quorum of current unseal shares that, once verified, produces new shares per
 * `options.next`. Throws COFFER_CORE_SEAL_CONFIG_INVALID at once for a bad `next`.
 */
export function createRekeyQuorum(options: RekeyOptions): ShareQuorum<RekeyResult> {
  validateShareConfig(options.next);
  const purpose = WrapPurpose.rootKeyShamir;
  const { binding } = options;
  return new ShareQuorum<RekeyResult>({
    kind: 'rekey',
    config: options.config,
    limiter: options.limiter,
    ...(options.newNonce === undefined ? {} : { newNonce: options.newNonce }),
    open: async (candidate) => {
      const rootKey = unwrapWithKey(candidate, options.wrapped, { purpose, binding });
      if (rootKey === undefined) {
        return undefined;
      }
      try {
        return await initShamir(rootKey, { config: options.next, binding });
      } finally {
        rootKey.zero();
      }
    },
  });
}
