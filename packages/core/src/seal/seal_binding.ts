/**
 * Associated data for every wrapped key: which format and scheme, what the key is for, and which
 * cluster it belongs to. Authenticating these with the ciphertext means a wrapped root key cannot
 * be replayed into another cluster, nor a break-glass blob used where a Shamir blob is expected,
 * nor a blob's header edited to make a decoder read it another way.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { SealBinding } from './seal_provider.ts';

/** What a wrapped key is for. Part of the associated data, never of the stored bytes. */
export const WrapPurpose = {
  /** The root key wrapped by the Shamir unseal key. */
  rootKeyShamir: 'root-key/shamir',
  /** The root key wrapped by the HSM key. */
  rootKeyPkcs11: 'root-key/pkcs11',
  /** The root key wrapped by the break-glass key (HSM seals only, opt-in). */
  rootKeyBreakGlass: 'root-key/break-glass',
  /** A known marker wrapped by the recovery key, to verify recovery shares. */
  recoveryCheck: 'recovery-check',
} as const;

/** The union of key purposes. */
export type WrapPurpose = (typeof WrapPurpose)[keyof typeof WrapPurpose];

const clusterIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;
const domain = 'coffer-seal';

/** Throws COFFER_CORE_SEAL_CONFIG_INVALID unless the cluster id has the documented shape. */
export function validateBinding(binding: SealBinding): void {
  if (!clusterIdPattern.test(binding.clusterId)) {
    throw new CoreError(
      CoreErrorCode.sealConfigInvalid,
      'Cannot bind a key to the cluster: the cluster id must be 1 to 128 characters of ' +
        `[A-Za-z0-9._:-], got ${binding.clusterId.length} characters`,
    );
  }
}

/**
 * The associated data of one wrapped key: `header || "coffer-seal" 0x00 purpose 0x00 clusterId`.
 * The header is the blob's own version and scheme bytes.
 */
export function associatedData(
  header: Uint8Array,
  purpose: WrapPurpose,
  binding: SealBinding,
): Buffer {
  validateBinding(binding);
  return Buffer.concat([
    header,
    Buffer.from(`${domain}\u0000${purpose}\u0000${binding.clusterId}`, 'utf8'),
  ]);
}
