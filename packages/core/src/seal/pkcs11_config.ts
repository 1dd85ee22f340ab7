/**
 * Configuration of the PKCS#11 seal, validated once at start. There is no PIN field on purpose:
 * the PIN is read from `pinFile` (pin_file.ts), never from config text or the environment.
 */
import { isAbsolute } from 'node:path';

import { CoreError, CoreErrorCode } from '../errors.ts';

/** Which mechanism wraps the root key inside the token. */
export const Pkcs11Mechanism = {
  /** CKM_AES_GCM with a 256-bit token key, 96-bit IV, 128-bit tag, cluster-bound AAD. */
  aesGcm: 'aes-gcm',
  /** CKM_RSA_PKCS_OAEP with a token key pair; the cluster binding is inside the plaintext. */
  rsaOaep: 'rsa-oaep',
} as const;

/** The union of mechanism names. */
export type Pkcs11Mechanism = (typeof Pkcs11Mechanism)[keyof typeof Pkcs11Mechanism];

/**
 * The OAEP hash. SHA-256 is the default; SHA-1 exists only for tokens whose OAEP lacks SHA-256
 * (SoftHSM 2.6 among them). OAEP's security does not rest on the hash's collision resistance.
 */
export type OaepHash = 'sha256' | 'sha1';

/** What an operator writes. Exactly one of `tokenLabel` and `slotId`. */
export interface Pkcs11SealConfig {
  /** Absolute path of the vendor's PKCS#11 library (libsofthsm2.so, libCryptoki2_64.so). */
  readonly libraryPath: string;
  /** The token's label, up to 32 characters; the slot is found by it at every connect. */
  readonly tokenLabel?: string;
  /** The slot id, for tokens without a unique label. */
  readonly slotId?: number;
  /** Path of the file holding the user PIN (mode 0600). */
  readonly pinFile: string;
  /** The CKA_LABEL of the wrapping key (of both halves for RSA). */
  readonly keyLabel: string;
  /** Default 'aes-gcm'. */
  readonly mechanism?: Pkcs11Mechanism;
  /** RSA-OAEP only. Default 'sha256'. */
  readonly oaepHash?: OaepHash;
  /** RSA key size when the key is generated at init. Default 3072. */
  readonly rsaModulusBits?: number;
}

/** A validated config with every default filled in. */
export interface ResolvedPkcs11Config {
  readonly libraryPath: string;
  readonly token: { readonly label: string } | { readonly slotId: number };
  readonly pinFile: string;
  readonly keyLabel: string;
  readonly mechanism: Pkcs11Mechanism;
  readonly oaepHash: OaepHash;
  readonly rsaModulusBits: number;
}

const labelPattern = /^[\x20-\x7e]{1,32}$/;
const keyLabelPattern = /^[\x21-\x7e][\x20-\x7e]{0,63}$/;
const modulusBitsAllowed = [3072, 4096];

function isMechanism(value: string): value is Pkcs11Mechanism {
  return (Object.values(Pkcs11Mechanism) as string[]).includes(value);
}

function isOaepHash(value: string): value is OaepHash {
  return value === 'sha256' || value === 'sha1';
}

function invalid(what: string): CoreError {
  return new CoreError(CoreErrorCode.sealConfigInvalid, `Fix the PKCS#11 seal config: ${what}`);
}

function resolveToken(config: Pkcs11SealConfig): ResolvedPkcs11Config['token'] {
  const { tokenLabel, slotId } = config;
  if ((tokenLabel === undefined) === (slotId === undefined)) {
    throw invalid('set exactly one of tokenLabel and slotId');
  }
  if (tokenLabel !== undefined) {
    if (!labelPattern.test(tokenLabel) || tokenLabel.trimEnd() !== tokenLabel) {
      throw invalid('tokenLabel must be 1 to 32 printable ASCII characters, no trailing space');
    }
    return { label: tokenLabel };
  }
  if (slotId === undefined || !Number.isSafeInteger(slotId) || slotId < 0) {
    throw invalid('slotId must be a non-negative integer');
  }
  return { slotId };
}

/** Validates `config` and fills in defaults; throws COFFER_CORE_SEAL_CONFIG_INVALID. */
export function resolvePkcs11Config(config: Pkcs11SealConfig): ResolvedPkcs11Config {
  if (!isAbsolute(config.libraryPath)) {
    throw invalid(`libraryPath must be an absolute path, got "${config.libraryPath}"`);
  }
  if (config.pinFile.length === 0) {
    throw invalid('pinFile must name the file holding the user PIN');
  }
  if (!keyLabelPattern.test(config.keyLabel)) {
    throw invalid('keyLabel must be 1 to 64 printable ASCII characters');
  }
  // NB: configs come from files, so the declared unions are checked as plain strings.
  const mechanism: string = config.mechanism ?? Pkcs11Mechanism.aesGcm;
  if (!isMechanism(mechanism)) {
    throw invalid(`mechanism must be "aes-gcm" or "rsa-oaep", got "${mechanism}"`);
  }
  const oaepHash: string = config.oaepHash ?? 'sha256';
  if (!isOaepHash(oaepHash)) {
    throw invalid(`oaepHash must be "sha256" or "sha1", got "${oaepHash}"`);
  }
  const rsaModulusBits = config.rsaModulusBits ?? 3072;
  if (!modulusBitsAllowed.includes(rsaModulusBits)) {
    throw invalid(`rsaModulusBits must be 3072 or 4096, got ${rsaModulusBits}`);
  }
  return {
    libraryPath: config.libraryPath,
    token: resolveToken(config),
    pinFile: config.pinFile,
    keyLabel: config.keyLabel,
    mechanism,
    oaepHash,
    rsaModulusBits,
  };
}
