/**
 * Goal: the PKCS#11 seal works against a real token and fails safely. It generates a key that
 * cannot leave the token, wraps and unwraps the root key with AES-GCM and RSA-OAEP bound to the
 * cluster, reports a typed reason (never a crash) for a missing library, an absent token, a
 * refused or insecure PIN and a missing key, and reconnects after session and device errors.
 * The AES-GCM parameter block that pkcs11js hands to the token is checked by a known-answer
 * test against node:crypto.
 *
 * Method: one SoftHSM2 token in a temporary directory (softhsm_fixture.ts), set as this
 * process's SOFTHSM2_CONF before the first C_Initialize; Vitest runs this file in its own
 * process. Tests run in order and each closes its seal (one seal per library per process).
 * Backoff runs on a ManualClock; nothing sleeps.
 */
import { createCipheriv } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ManualClock } from '@coffer/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SecretKey } from '../barrier/secret_key.ts';
import { CoreErrorCode } from '../errors.ts';
import { ckrName, initializeLibrary, openLibrary } from './pkcs11_adapter.ts';
import { aesGcmMechanism } from './pkcs11_cipher.ts';
import type { Pkcs11SealConfig } from './pkcs11_config.ts';
import { Pkcs11Seal, waitForSeal } from './pkcs11_seal.ts';
import type { TokenContext } from './pkcs11_token.ts';
import { SealUnavailableReason, type SealStatus } from './seal_provider.ts';
import { createSoftHsmToken, softHsmLibraryPath, type SoftHsmToken } from './softhsm_fixture.ts';

const binding = { clusterId: 'cluster-a' };
let token: SoftHsmToken;

function config(overrides: Partial<Pkcs11SealConfig> = {}): Pkcs11SealConfig {
  return {
    libraryPath: softHsmLibraryPath,
    tokenLabel: token.label,
    pinFile: token.pinFile,
    keyLabel: 'root-wrap',
    ...overrides,
  };
}

function reasonOf(status: SealStatus): string {
  return status.state === 'ready' ? 'ready' : status.reason;
}

/** A session of our own on the token, logged in, beside any seal. */
async function rawSession(): Promise<TokenContext & { close(): void }> {
  const library = await openLibrary(softHsmLibraryPath);
  initializeLibrary(library);
  const { module, pkcs11 } = library;
  const slot = pkcs11
    .C_GetSlotList(true)
    .find((candidate) => pkcs11.C_GetTokenInfo(candidate).label.trimEnd() === token.label);
  if (slot === undefined) {
    throw new Error('test token not found');
  }
  const session = pkcs11.C_OpenSession(slot, module.CKF_SERIAL_SESSION | module.CKF_RW_SESSION);
  try {
    pkcs11.C_Login(session, module.CKU_USER, token.userPin);
  } catch (error) {
    if (ckrName(error) !== 'CKR_USER_ALREADY_LOGGED_IN') {
      throw error;
    }
  }
  return {
    module,
    pkcs11,
    session,
    close: () => {
      pkcs11.C_CloseSession(session);
    },
  };
}

/** Runs `call` and returns the code of the error it rejects with. */
async function codeOf(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
  } catch (error) {
    return (error as { code?: string }).code ?? 'no code';
  }
  return 'resolved';
}

beforeAll(() => {
  token = createSoftHsmToken('coffer-seal-test');
  token.useInThisProcess();
}, 300_000);

afterAll(() => {
  token.cleanup();
});

describe('Pkcs11Seal with AES-GCM', () => {
  it('Pkcs11Seal.generateKey makes a key that wraps and unwraps the root key', async () => {
    const seal = new Pkcs11Seal(config());
    await seal.generateKey();
    expect(seal.status()).toEqual({ state: 'ready', type: 'pkcs11' });
    const rootKey = SecretKey.generate();
    const wrapped = await seal.wrapRootKey(rootKey, binding);
    const unwrapped = await seal.unwrapRootKey(wrapped, binding);
    expect(unwrapped.equals(rootKey)).toBe(true);
    expect(wrapped.subarray(0, 2)).toEqual(Buffer.from([1, 2]));
    await seal.close();
    expect(reasonOf(seal.status())).toBe('closed');
  });

  it('Pkcs11Seal.unwrapRootKey refuses another cluster, a changed byte and a foreign scheme', async () => {
    const seal = new Pkcs11Seal(config());
    const wrapped = await seal.wrapRootKey(SecretKey.generate(), binding);
    const other = { clusterId: 'cluster-b' };
    expect(await codeOf(() => seal.unwrapRootKey(wrapped, other))).toBe(
      CoreErrorCode.rootKeyUnwrapFailed,
    );
    for (const offset of [2, 20, wrapped.byteLength - 1]) {
      const tampered = Buffer.from(wrapped);
      tampered[offset] = (tampered[offset] ?? 0) ^ 0x01;
      expect(await codeOf(() => seal.unwrapRootKey(tampered, binding))).toBe(
        CoreErrorCode.rootKeyUnwrapFailed,
      );
    }
    const asShamir = Buffer.from(wrapped);
    asShamir[1] = 1;
    expect(await codeOf(() => seal.unwrapRootKey(asShamir, binding))).toBe(
      CoreErrorCode.rootKeyBlobInvalid,
    );
    expect(seal.status().state).toBe('ready');
    await seal.close();
  });

  it('Pkcs11Seal.generateKey refuses a label that is taken', async () => {
    const seal = new Pkcs11Seal(config());
    expect(await codeOf(() => seal.generateKey())).toBe(CoreErrorCode.sealKeyExists);
    await seal.close();
  });

  it("the generated key's CKA_VALUE cannot be read (CKR_ATTRIBUTE_SENSITIVE)", async () => {
    const raw = await rawSession();
    const { module, pkcs11, session } = raw;
    pkcs11.C_FindObjectsInit(session, [
      { type: module.CKA_LABEL, value: 'root-wrap' },
      { type: module.CKA_CLASS, value: module.CKO_SECRET_KEY },
    ]);
    const [key] = pkcs11.C_FindObjects(session, 2);
    pkcs11.C_FindObjectsFinal(session);
    if (key === undefined) {
      throw new Error('key not found');
    }
    let refusal: string | undefined;
    try {
      pkcs11.C_GetAttributeValue(session, key, [{ type: module.CKA_VALUE }]);
    } catch (error) {
      refusal = ckrName(error);
    }
    expect(refusal).toBe('CKR_ATTRIBUTE_SENSITIVE');
    const flags = pkcs11.C_GetAttributeValue(session, key, [
      { type: module.CKA_SENSITIVE },
      { type: module.CKA_EXTRACTABLE },
      { type: module.CKA_NEVER_EXTRACTABLE },
      { type: module.CKA_ALWAYS_SENSITIVE },
      { type: module.CKA_TOKEN },
    ]);
    expect(flags.map((attribute) => attribute.value[0])).toEqual([1, 0, 1, 1, 1]);
    raw.close();
  });

  it('CKM_AES_GCM with the seal parameter block matches node:crypto AES-256-GCM (KAT)', async () => {
    const raw = await rawSession();
    const { module, pkcs11, session } = raw;
    const keyValue = Buffer.from(
      '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
      'hex',
    );
    const iv = Buffer.from('cafebabefacedbaddecaf888', 'hex');
    const aad = Buffer.from('coffer-seal\u0000root-key/pkcs11\u0000kat', 'utf8');
    const plain = Buffer.from('known plaintext of thirty-two b.', 'utf8');
    const key = pkcs11.C_CreateObject(session, [
      { type: module.CKA_CLASS, value: module.CKO_SECRET_KEY },
      { type: module.CKA_KEY_TYPE, value: module.CKK_AES },
      { type: module.CKA_VALUE, value: keyValue },
      { type: module.CKA_TOKEN, value: false },
      { type: module.CKA_ENCRYPT, value: true },
      { type: module.CKA_DECRYPT, value: true },
    ]);
    pkcs11.C_EncryptInit(session, aesGcmMechanism(raw, iv, aad), key);
    const onToken = Buffer.from(pkcs11.C_Encrypt(session, plain, Buffer.alloc(64)));
    const cipher = createCipheriv('aes-256-gcm', keyValue, iv);
    cipher.setAAD(aad);
    const reference = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    expect(onToken.toString('hex')).toBe(reference.toString('hex'));
    pkcs11.C_DecryptInit(session, aesGcmMechanism(raw, iv, aad), key);
    expect(pkcs11.C_Decrypt(session, reference, Buffer.alloc(64)).equals(plain)).toBe(true);
    pkcs11.C_DestroyObject(session, key);
    raw.close();
  });
});

describe('Pkcs11Seal with RSA-OAEP', () => {
  it('Pkcs11Seal wraps and unwraps with an RSA key pair (OAEP SHA-1 on SoftHSM 2.6)', async () => {
    const seal = new Pkcs11Seal(
      config({ keyLabel: 'rsa-wrap', mechanism: 'rsa-oaep', oaepHash: 'sha1' }),
    );
    await seal.generateKey();
    const rootKey = SecretKey.generate();
    const wrapped = await seal.wrapRootKey(rootKey, binding);
    expect(wrapped.byteLength).toBe(2 + 384);
    expect((await seal.unwrapRootKey(wrapped, binding)).equals(rootKey)).toBe(true);
    expect(await codeOf(() => seal.unwrapRootKey(wrapped, { clusterId: 'cluster-b' }))).toBe(
      CoreErrorCode.rootKeyUnwrapFailed,
    );
    await seal.close();
  }, 20_000);

  it('Pkcs11Seal with OAEP SHA-256 round-trips or reports mechanism_unsupported', async () => {
    const seal = new Pkcs11Seal(config({ keyLabel: 'rsa-wrap', mechanism: 'rsa-oaep' }));
    const rootKey = SecretKey.generate();
    try {
      const wrapped = await seal.wrapRootKey(rootKey, binding);
      expect((await seal.unwrapRootKey(wrapped, binding)).equals(rootKey)).toBe(true);
    } catch (error) {
      expect((error as { code?: string }).code).toBe(CoreErrorCode.sealUnavailable);
      expect(reasonOf(seal.status())).toBe(SealUnavailableReason.mechanismUnsupported);
    }
    await seal.close();
  });
});

describe('Pkcs11Seal status reasons', () => {
  it('Pkcs11Seal.connect reports library_missing, token_absent and key_missing', async () => {
    const cases: [Partial<Pkcs11SealConfig>, string][] = [
      [{ libraryPath: '/nonexistent/libpkcs11.so' }, SealUnavailableReason.libraryMissing],
      [{ libraryPath: join(token.dir, 'softhsm2.conf') }, SealUnavailableReason.libraryMissing],
      [{ tokenLabel: 'no-such-token' }, SealUnavailableReason.tokenAbsent],
      [{ keyLabel: 'no-such-key' }, SealUnavailableReason.keyMissing],
    ];
    for (const [overrides, reason] of cases) {
      const seal = new Pkcs11Seal(config(overrides));
      expect(reasonOf(await seal.connect())).toBe(reason);
      expect(await codeOf(() => seal.wrapRootKey(SecretKey.generate(), binding))).toBe(
        CoreErrorCode.sealUnavailable,
      );
      await seal.close();
    }
  });

  it('Pkcs11Seal.connect refuses an insecure PIN file before reading it', async () => {
    const pinFile = join(token.dir, 'loose.pin');
    writeFileSync(pinFile, token.userPin);
    chmodSync(pinFile, 0o644);
    const seal = new Pkcs11Seal(config({ pinFile }));
    const status = await seal.connect();
    expect(reasonOf(status)).toBe(SealUnavailableReason.pinFileInvalid);
    expect(status.state === 'unavailable' && status.detail).toContain('mode is 0644');
    await seal.close();
  });

  it('Pkcs11Seal.connect reports pin_incorrect and does not retry that PIN', async () => {
    const pinFile = join(token.dir, 'wrong.pin');
    writeFileSync(pinFile, 'not-the-pin', { mode: 0o600 });
    const seal = new Pkcs11Seal(config({ pinFile }));
    const first = await seal.connect();
    expect(reasonOf(first)).toBe(SealUnavailableReason.pinIncorrect);
    expect(first.state === 'unavailable' && first.detail).toContain('CKR_PIN_INCORRECT');
    const second = await seal.connect();
    expect(second.state === 'unavailable' && second.detail).toContain('not retried');
    writeFileSync(pinFile, token.userPin, { mode: 0o600 });
    expect(reasonOf(await seal.connect())).toBe('ready');
    await seal.close();
  });
});

describe('Pkcs11Seal reconnects', () => {
  it('Pkcs11Seal reopens its session after CKR_SESSION_HANDLE_INVALID', async () => {
    const seal = new Pkcs11Seal(config());
    const rootKey = SecretKey.generate();
    const wrapped = await seal.wrapRootKey(rootKey, binding);
    const raw = await rawSession();
    const slot = raw.pkcs11.C_GetSessionInfo(raw.session).slotID;
    raw.pkcs11.C_CloseAllSessions(slot);
    expect((await seal.unwrapRootKey(wrapped, binding)).equals(rootKey)).toBe(true);
    await seal.close();
  });

  it('Pkcs11Seal goes token_absent when the token leaves and waitForSeal recovers it', async () => {
    const seal = new Pkcs11Seal(config());
    const rootKey = SecretKey.generate();
    const wrapped = await seal.wrapRootKey(rootKey, binding);
    token.moveAway();
    expect(await codeOf(() => seal.unwrapRootKey(wrapped, binding))).toBe(
      CoreErrorCode.sealUnavailable,
    );
    expect(reasonOf(seal.status())).toBe(SealUnavailableReason.tokenAbsent);
    const clock = new ManualClock();
    let timerSet: () => void = () => undefined;
    const firstWait = new Promise<void>((resolve) => {
      timerSet = resolve;
    });
    const watched = {
      nowMs: () => clock.nowMs(),
      setTimer: (delayMs: number, callback: () => void) => {
        timerSet();
        return clock.setTimer(delayMs, callback);
      },
    };
    const ready = waitForSeal(seal, { clock: watched, delayBaseMs: 100, jitter: () => 0 });
    await firstWait;
    expect(reasonOf(seal.status())).toBe(SealUnavailableReason.tokenAbsent);
    token.moveBack();
    clock.advance(100);
    await ready;
    expect((await seal.unwrapRootKey(wrapped, binding)).equals(rootKey)).toBe(true);
    await seal.close();
  });
});

describe('Pkcs11Seal config', () => {
  it('Pkcs11Seal refuses configs without exactly one token selector', () => {
    expect(() => new Pkcs11Seal(config({ slotId: 1 }))).toThrow(
      expect.objectContaining({ code: CoreErrorCode.sealConfigInvalid }),
    );
    expect(
      () => new Pkcs11Seal({ ...config(), tokenLabel: undefined } as unknown as Pkcs11SealConfig),
    ).toThrow(expect.objectContaining({ code: CoreErrorCode.sealConfigInvalid }));
  });
});
