/**
 * Goal: a sealed keyring opens only under its root key and unchanged; any flipped bit, a
 * truncation, a wrong root key or contents that break the keyring's rules give
 * COFFER_CORE_KEYRING_CORRUPT, and the serialized keys are never visible in the sealed bytes.
 * Method: keyrings built with the plan functions from generated keys; every bit of a sealed
 * keyring flipped one at a time.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { Keyring, type KeyringContents } from './keyring.ts';
import { decodeKeyring, encodeKeyring } from './keyring_codec.ts';
import { planInitialKeyring, planReservation, planRotation } from './keyring_plan.ts';
import { SecretKey } from './secret_key.ts';

function threeTermKeyring(): KeyringContents {
  let contents = planInitialKeyring(
    { dataKey: SecretKey.generate(), identifierKey: SecretKey.generate() },
    1_000,
  );
  contents = planReservation(contents, 500);
  contents = planRotation(contents, {
    key: SecretKey.generate(),
    installTimeMs: 2_000,
    encryptions: 10,
  });
  return planRotation(contents, {
    key: SecretKey.generate(),
    installTimeMs: 2 ** 52,
    encryptions: 0xffff_ffff,
  });
}

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    return (error as { code?: string }).code ?? 'no code';
  }
  return 'returned a value';
}

describe('keyring codec', () => {
  it('decodeKeyring returns what encodeKeyring sealed, as new keys', () => {
    const rootKey = SecretKey.generate();
    const contents = threeTermKeyring();
    const decoded = decodeKeyring(encodeKeyring(contents, rootKey), rootKey);
    expect(new Keyring(decoded).status()).toEqual(new Keyring(contents).status());
    expect(decoded.identifierKey.equals(contents.identifierKey)).toBe(true);
    decoded.terms.forEach((entry, i) => {
      expect(entry.key.equals(contents.terms[i]?.key ?? SecretKey.generate())).toBe(true);
      expect(entry.key).not.toBe(contents.terms[i]?.key);
    });
  });

  it('encodeKeyring output holds no key in clear and differs on every call', () => {
    const rootKey = SecretKey.generate();
    const contents = threeTermKeyring();
    const first = Buffer.from(encodeKeyring(contents, rootKey));
    const second = Buffer.from(encodeKeyring(contents, rootKey));
    expect(first.equals(second)).toBe(false);
    for (const key of [rootKey, contents.identifierKey, ...contents.terms.map((t) => t.key)]) {
      expect(first.includes(key.reveal())).toBe(false);
      expect(first.includes(key.reveal().subarray(0, 8))).toBe(false);
    }
  });

  it('decodeKeyring rejects every single-bit flip of a sealed keyring', () => {
    const rootKey = SecretKey.generate();
    const sealed = encodeKeyring(threeTermKeyring(), rootKey);
    for (let bit = 0; bit < sealed.byteLength * 8; bit++) {
      const tampered = Buffer.from(sealed);
      tampered[bit >> 3] = (tampered[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      expect(
        codeOf(() => decodeKeyring(tampered, rootKey)),
        `bit ${bit}`,
      ).toBe(CoreErrorCode.keyringCorrupt);
    }
  });

  it('decodeKeyring rejects a wrong root key, truncation and extension', () => {
    const rootKey = SecretKey.generate();
    const sealed = Buffer.from(encodeKeyring(threeTermKeyring(), rootKey));
    const cases = [
      () => decodeKeyring(sealed, SecretKey.generate()),
      () => decodeKeyring(sealed.subarray(0, 0), rootKey),
      () => decodeKeyring(sealed.subarray(0, 28), rootKey),
      () => decodeKeyring(sealed.subarray(0, sealed.byteLength - 1), rootKey),
      () => decodeKeyring(Buffer.concat([sealed, Buffer.of(0)]), rootKey),
    ];
    for (const attempt of cases) {
      expect(codeOf(attempt)).toBe(CoreErrorCode.keyringCorrupt);
    }
  });

  it('decodeKeyring rejects authentic contents that break the keyring rules', () => {
    const rootKey = SecretKey.generate();
    const good = threeTermKeyring();
    const broken: KeyringContents[] = [
      { ...good, activeTerm: 1 },
      { ...good, generation: 0 },
      { ...good, terms: [] },
      { ...good, terms: [...good.terms].reverse() },
      { ...good, terms: good.terms.map((entry) => ({ ...entry, term: 1 })) },
    ];
    for (const contents of broken) {
      expect(codeOf(() => decodeKeyring(encodeKeyring(contents, rootKey), rootKey))).toBe(
        CoreErrorCode.keyringCorrupt,
      );
    }
  });

  it('decodeKeyring error messages name no key material', () => {
    const rootKey = SecretKey.generate();
    const sealed = Buffer.from(encodeKeyring(threeTermKeyring(), rootKey));
    sealed[20] = (sealed[20] ?? 0) ^ 1;
    let text = '';
    try {
      decodeKeyring(sealed, rootKey);
    } catch (error) {
      text = `${(error as Error).message} ${(error as Error).stack ?? ''}`;
    }
    expect(text).toContain('Cannot open the keyring');
    expect(text).not.toContain(rootKey.reveal().toString('hex'));
    expect(text).not.toContain(rootKey.reveal().toString('base64'));
  });
});
