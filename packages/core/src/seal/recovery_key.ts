/**
 * Recovery keys for HSM seals. With auto-unseal, people still need a way to authorize the rare
 * operations that must not depend on a token alone (rekey of the recovery shares, a new root
 * token). Recovery shares split a recovery key, and what is stored is only a check: a fixed
 * marker wrapped under the recovery key. Verifying a quorum means opening that check.
 *
 * Recovery shares authorize; they cannot decrypt the root key. The root key is never wrapped
 * under the recovery key, and a verified quorum yields a {@link RecoveryAuthorization}, which
 * carries no key material; the reconstructed key is zeroed before the caller sees anything.
 * (Break-glass, break_glass.ts, is the separate, opt-in way to recover the root key by shares.)
 */
import { timingSafeEqual } from 'node:crypto';

import { SecretKey } from '../barrier/secret_key.ts';
import { unwrapWithKey, wrapWithKey } from './key_wrap.ts';
import { WrapPurpose, validateBinding } from './seal_binding.ts';
import type { SealBinding } from './seal_provider.ts';
import { rootKeySizeBytes, type StoredQuorumOptions } from './shamir_seal.ts';
import { splitSecret, validateShareConfig, type ShareConfig } from './shamir.ts';
import { ShareQuorum } from './share_quorum.ts';

/** The marker the check wraps. Public; its only job is to authenticate. */
const marker = Buffer.from('coffer recovery key check v1....', 'utf8');

/** Proof that a quorum of recovery shares was verified; holds no key material. */
export interface RecoveryAuthorization {
  readonly kind: 'recovery';
  readonly clusterId: string;
}

/** What init hands back for recovery keys. */
export interface RecoveryKeyResult {
  /** The recovery key's shares; the caller zeroes them once delivered. */
  readonly shares: SecretKey[];
  /** The stored check (not secret). */
  readonly check: Buffer;
  readonly config: ShareConfig;
}

/** Makes a recovery key, splits it and returns its shares and check. The key is then zeroed. */
export async function createRecoveryKey(options: {
  readonly config: ShareConfig;
  readonly binding: SealBinding;
}): Promise<RecoveryKeyResult> {
  validateShareConfig(options.config);
  validateBinding(options.binding);
  const recoveryKey = SecretKey.generate(rootKeySizeBytes);
  const markerKey = SecretKey.fromBytes(marker);
  try {
    const purpose = WrapPurpose.recoveryCheck;
    const check = wrapWithKey(recoveryKey, markerKey, { purpose, binding: options.binding });
    const shares = await splitSecret(recoveryKey, options.config);
    return { shares, check, config: options.config };
  } finally {
    recoveryKey.zero();
    markerKey.zero();
  }
}

/** True when `candidate` opens the stored check for this binding. */
function opensCheck(candidate: SecretKey, check: Uint8Array, binding: SealBinding): boolean {
  const purpose = WrapPurpose.recoveryCheck;
  const opened = unwrapWithKey(candidate, check, { purpose, binding });
  if (opened === undefined) {
    return false;
  }
  const matches =
    opened.sizeBytes === marker.byteLength && timingSafeEqual(opened.reveal(), marker);
  opened.zero();
  return matches;
}

/** Options for recovery quorums: `wrapped` is the stored check. */
export type RecoveryQuorumOptions = StoredQuorumOptions;

/** A quorum of recovery shares that completes with an authorization, never with a key. */
export function createRecoveryQuorum(
  options: RecoveryQuorumOptions,
): ShareQuorum<RecoveryAuthorization> {
  const { binding } = options;
  return new ShareQuorum<RecoveryAuthorization>({
    kind: 'recovery',
    config: options.config,
    limiter: options.limiter,
    ...(options.newNonce === undefined ? {} : { newNonce: options.newNonce }),
    open: (candidate) =>
      Promise.resolve(
        opensCheck(candidate, options.wrapped, binding)
          ? { kind: 'recovery', clusterId: binding.clusterId }
          : undefined,
      ),
  });
}

/**
 * A quorum of current recovery shares that, once verified, makes a new recovery key per
 * `next`. Only the check changes; nothing else is stored under a recovery key.
 */
export function createRecoveryRekeyQuorum(
  options: RecoveryQuorumOptions & { readonly next: ShareConfig },
): ShareQuorum<RecoveryKeyResult> {
  validateShareConfig(options.next);
  const { binding } = options;
  return new ShareQuorum<RecoveryKeyResult>({
    kind: 'rekey',
    config: options.config,
    limiter: options.limiter,
    ...(options.newNonce === undefined ? {} : { newNonce: options.newNonce }),
    open: async (candidate) =>
      opensCheck(candidate, options.wrapped, binding)
        ? await createRecoveryKey({ config: options.next, binding })
        : undefined,
  });
}
