/**
 * What a PKCS#11 return value means for the seal: which ones call for a new session (and a
 * re-initialized library, since some libraries rescan tokens only in C_Initialize), and which
 * status reason an operator sees. Names, not numbers: pkcs11js reports CKR_* names.
 */
import { SealUnavailableReason } from './seal_provider.ts';

/**
 * Return values after which the session, the login or the object handles may be gone: the seal
 * drops its session, finalizes and reconnects. CKR_GENERAL_ERROR is here because SoftHSM answers
 * with it when its token directory disappears under an open session.
 */
const reconnectable: ReadonlySet<string> = new Set([
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_SESSION_COUNT',
  'CKR_DEVICE_REMOVED',
  'CKR_DEVICE_ERROR',
  'CKR_DEVICE_MEMORY',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_TOKEN_NOT_RECOGNIZED',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_GENERAL_ERROR',
  'CKR_FUNCTION_FAILED',
]);

/** Return values that say the token cannot do what the config asks. */
const unsupported: ReadonlySet<string> = new Set([
  'CKR_MECHANISM_INVALID',
  'CKR_MECHANISM_PARAM_INVALID',
  'CKR_ARGUMENTS_BAD',
  'CKR_KEY_TYPE_INCONSISTENT',
  'CKR_KEY_FUNCTION_NOT_PERMITTED',
  'CKR_KEY_SIZE_RANGE',
  'CKR_TEMPLATE_INCONSISTENT',
  'CKR_ATTRIBUTE_VALUE_INVALID',
]);

/** Return values that mean the ciphertext did not authenticate under this key. */
const notAuthentic: ReadonlySet<string> = new Set([
  'CKR_ENCRYPTED_DATA_INVALID',
  'CKR_ENCRYPTED_DATA_LEN_RANGE',
  'CKR_GENERAL_ERROR',
  'CKR_FUNCTION_FAILED',
]);

/** True when `name` means: drop the session and reconnect. */
export function isReconnectable(name: string | undefined): boolean {
  return name !== undefined && reconnectable.has(name);
}

/** True when a decryption failing with `name` means "wrong key, wrong AAD or tampered". */
export function isNotAuthentic(name: string | undefined): boolean {
  return name !== undefined && notAuthentic.has(name);
}

/** The status reason for an operation that failed with `name` (undefined: not a PKCS#11 error). */
export function reasonFor(name: string | undefined): SealUnavailableReason {
  switch (name) {
    case 'CKR_PIN_INCORRECT':
    case 'CKR_PIN_INVALID':
    case 'CKR_PIN_LEN_RANGE':
      return SealUnavailableReason.pinIncorrect;
    case 'CKR_PIN_LOCKED':
    case 'CKR_PIN_EXPIRED':
      return SealUnavailableReason.pinLocked;
    case 'CKR_TOKEN_NOT_PRESENT':
    case 'CKR_TOKEN_NOT_RECOGNIZED':
    case 'CKR_SLOT_ID_INVALID':
      return SealUnavailableReason.tokenAbsent;
    default:
      return name !== undefined && unsupported.has(name)
        ? SealUnavailableReason.mechanismUnsupported
        : SealUnavailableReason.deviceError;
  }
}
