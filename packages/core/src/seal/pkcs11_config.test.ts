/**
 * Goal: PKCS#11 configs are validated once, with defaults filled in and a clear message for each
 * mistake, and PKCS#11 return values map to the documented reasons.
 * Method: tables of configs and return value names.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { resolvePkcs11Config, type Pkcs11SealConfig } from './pkcs11_config.ts';
import { isNotAuthentic, isReconnectable, reasonFor } from './pkcs11_errors.ts';

const base: Pkcs11SealConfig = {
  libraryPath: '/usr/lib/softhsm/libsofthsm2.so',
  tokenLabel: 'coffer',
  pinFile: '/etc/coffer/hsm.pin',
  keyLabel: 'coffer-root',
};

describe('resolvePkcs11Config', () => {
  it('resolvePkcs11Config fills in AES-GCM, SHA-256 OAEP and 3072-bit RSA', () => {
    expect(resolvePkcs11Config(base)).toEqual({
      libraryPath: base.libraryPath,
      token: { label: 'coffer' },
      pinFile: base.pinFile,
      keyLabel: 'coffer-root',
      mechanism: 'aes-gcm',
      oaepHash: 'sha256',
      rsaModulusBits: 3072,
    });
    const bySlot = { ...base, tokenLabel: undefined, slotId: 7 } as unknown as Pkcs11SealConfig;
    expect(resolvePkcs11Config(bySlot).token).toEqual({ slotId: 7 });
  });

  it('resolvePkcs11Config refuses each invalid field with SEAL_CONFIG_INVALID', () => {
    const invalid: Record<string, unknown>[] = [
      { libraryPath: 'libsofthsm2.so' },
      { slotId: 1 },
      { tokenLabel: undefined },
      { tokenLabel: 'x'.repeat(33) },
      { tokenLabel: 'trailing ' },
      { tokenLabel: undefined, slotId: -1 },
      { pinFile: '' },
      { keyLabel: '' },
      { keyLabel: ' leading' },
      { mechanism: 'des' },
      { oaepHash: 'md5' },
      { rsaModulusBits: 2048 },
    ];
    for (const overrides of invalid) {
      const config = { ...base, ...overrides };
      expect(() => resolvePkcs11Config(config), JSON.stringify(overrides)).toThrow(
        expect.objectContaining({ code: CoreErrorCode.sealConfigInvalid }),
      );
    }
  });
});

describe('PKCS#11 return values', () => {
  it('reasonFor maps PIN, token and mechanism errors and defaults to device_error', () => {
    expect(reasonFor('CKR_PIN_INCORRECT')).toBe('pin_incorrect');
    expect(reasonFor('CKR_PIN_LOCKED')).toBe('pin_locked');
    expect(reasonFor('CKR_TOKEN_NOT_PRESENT')).toBe('token_absent');
    expect(reasonFor('CKR_MECHANISM_INVALID')).toBe('mechanism_unsupported');
    expect(reasonFor('CKR_DEVICE_REMOVED')).toBe('device_error');
    expect(reasonFor(undefined)).toBe('device_error');
  });

  it('isReconnectable covers session and device errors, not PIN or data errors', () => {
    for (const name of [
      'CKR_SESSION_HANDLE_INVALID',
      'CKR_DEVICE_REMOVED',
      'CKR_TOKEN_NOT_PRESENT',
    ]) {
      expect(isReconnectable(name)).toBe(true);
    }
    for (const name of ['CKR_PIN_INCORRECT', 'CKR_ENCRYPTED_DATA_INVALID', undefined]) {
      expect(isReconnectable(name)).toBe(false);
    }
    expect(isNotAuthentic('CKR_ENCRYPTED_DATA_INVALID')).toBe(true);
    expect(isNotAuthentic('CKR_PIN_INCORRECT')).toBe(false);
  });
});
