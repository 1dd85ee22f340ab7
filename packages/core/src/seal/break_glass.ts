/**
 * Break-glass: with an HSM seal, the root key can also be wrapped under a second key that is
 * split into Shamir shares, so that losing the HSM for good does not lose every secret (vault
 * #15490, openbao #299). Off by default: it adds a second way in, held by people, and its shares
 * must be kept like Shamir unseal shares (offline, apart). docs/design/seal.md weighs it.
 *
 * Break-glass shares decrypt the root key; recovery shares (recovery_key.ts) do not. The two
 * use different keys, different purposes in the associated data, and different quorum kinds.
 */
import { SecretKey } from '../barrier/secret_key.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import { unwrapWithKey, wrapWithKey } from './key_wrap.ts';
import { WrapPurpose, validateBinding } from './seal_binding.ts';
import type { SealBinding } from './seal_provider.ts';
import { rootKeySizeBytes, type StoredQuorumOptions } from './shamir_seal.ts';
import { splitSecret, validateShareConfig, type ShareConfig } from './shamir.ts';
import { ShareQuorum } from './share_quorum.ts';

/** What init hands back when break-glass is on. */
export interface BreakGlassResult {
  /** The break-glass key's shares; the caller zeroes them once delivered. */
  readonly shares: SecretKey[];
  /** The root key wrapped under the break-glass key; store it beside the HSM-wrapped one. */
  readonly wrappedRootKey: Buffer;
  readonly config: ShareConfig;
}

/**
 * Makes a break-glass key, wraps `rootKey` under it and splits it. The break-glass key is zeroed
 * before this returns; the caller keeps `rootKey`.
 */
export async function createBreakGlass(
  rootKey: SecretKey,
  options: { readonly config: ShareConfig; readonly binding: SealBinding },
): Promise<BreakGlassResult> {
  validateShareConfig(options.config);
  validateBinding(options.binding);
  const breakGlassKey = SecretKey.generate(rootKeySizeBytes);
  try {
    const purpose = WrapPurpose.rootKeyBreakGlass;
    const wrappedRootKey = wrapWithKey(breakGlassKey, rootKey, {
      purpose,
      binding: options.binding,
    });
    const shares = await splitSecret(breakGlassKey, options.config);
    return { shares, wrappedRootKey, config: options.config };
  } finally {
    breakGlassKey.zero();
  }
}

/** Options for {@link createBreakGlassQuorum}; `wrapped` is undefined when break-glass is off. */
export type BreakGlassQuorumOptions = Omit<StoredQuorumOptions, 'wrapped'> & {
  readonly wrapped: Uint8Array | undefined;
};

/**
 * A quorum of break-glass shares that completes with the root key (owned by the caller). Throws
 * COFFER_CORE_BREAK_GLASS_NOT_CONFIGURED when the cluster was initialized without break-glass.
 */
export function createBreakGlassQuorum(options: BreakGlassQuorumOptions): ShareQuorum<SecretKey> {
  const wrapped = options.wrapped;
  if (wrapped === undefined) {
    throw new CoreError(
      CoreErrorCode.breakGlassNotConfigured,
      'Cannot recover with break-glass shares: this cluster was initialized without break-glass',
    );
  }
  const purpose = WrapPurpose.rootKeyBreakGlass;
  const { binding } = options;
  return new ShareQuorum<SecretKey>({
    kind: 'break-glass',
    config: options.config,
    limiter: options.limiter,
    ...(options.newNonce === undefined ? {} : { newNonce: options.newNonce }),
    open: (candidate) => Promise.resolve(unwrapWithKey(candidate, wrapped, { purpose, binding })),
  });
}
