/**
 * Goal: the Barrier serves only while unsealed, seal() zeroes every key buffer it held, values
 * round-trip and fail typed when tampered or moved, derived keys and identifier hashes are
 * purpose-bound and stable, and no key reaches inspect, JSON or an error.
 * Method: a barrier over a keyring made by initializeKeyring with generated root keys; key
 * buffers are captured as the barrier creates them (a spy on SecretKey's factories) so the test
 * can look at them after seal. No clock: times are numbers passed in.
 */
import { format, inspect } from 'node:util';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { Barrier, type BarrierOptions } from './barrier.ts';
import { IdentifierPurpose, KeyPurpose } from './key_derivation.ts';
import { initializeKeyring } from './keyring_change.ts';
import { SecretKey } from './secret_key.ts';

interface Opened {
  readonly barrier: Barrier;
  readonly rootKey: SecretKey;
  readonly sealedKeyring: Uint8Array;
}

/** An unsealed barrier holding a first reservation; `rootKey` is the test's own copy. */
function openBarrier(options: BarrierOptions = {}): Opened {
  const rootKey = SecretKey.generate();
  const sealedKeyring = initializeKeyring(rootKey, { nowMs: 1_000 });
  const barrier = new Barrier(options);
  barrier.unseal(rootKey.clone(), sealedKeyring);
  barrier.applyKeyringChange(barrier.prepareReservation().bytes);
  return { barrier, rootKey, sealedKeyring };
}

/** Captures the live buffer of every SecretKey created from now on. */
function captureKeyBuffers(): Buffer[] {
  const buffers: Buffer[] = [];
  const keep = (key: SecretKey): SecretKey => {
    buffers.push(key.reveal());
    return key;
  };
  const generate = SecretKey.generate.bind(SecretKey);
  const fromBytes = SecretKey.fromBytes.bind(SecretKey);
  const adopt = SecretKey.adopt.bind(SecretKey);
  vi.spyOn(SecretKey, 'generate').mockImplementation((sizeBytes) => keep(generate(sizeBytes)));
  vi.spyOn(SecretKey, 'fromBytes').mockImplementation((source) => keep(fromBytes(source)));
  vi.spyOn(SecretKey, 'adopt').mockImplementation((buffer) => keep(adopt(buffer)));
  return buffers;
}

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    return (error as { code?: string }).code ?? 'no code';
  }
  return 'returned a value';
}

const value = Buffer.from('canary-secret-value-for-the-barrier', 'utf8');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Barrier', () => {
  it('Barrier round-trips values and binds each to its path', () => {
    const { barrier } = openBarrier();
    const ciphertext = barrier.encrypt('secret/a', value);
    expect(Buffer.from(barrier.decrypt('secret/a', ciphertext)).equals(value)).toBe(true);
    expect(Buffer.from(ciphertext).includes(value)).toBe(false);
    expect(codeOf(() => barrier.decrypt('secret/b', ciphertext))).toBe(
      CoreErrorCode.barrierDecryptFailed,
    );
  });

  it('Barrier refuses every operation while sealed, before unseal and after seal', () => {
    const { barrier } = openBarrier();
    const ciphertext = barrier.encrypt('secret/a', value);
    const fresh = new Barrier();
    barrier.seal();
    for (const sealed of [fresh, barrier]) {
      expect(sealed.isSealed).toBe(true);
      const operations = [
        () => sealed.encrypt('secret/a', value),
        () => sealed.decrypt('secret/a', ciphertext),
        () => sealed.keyringStatus(),
        () => sealed.sealedKeyring(),
        () => sealed.remainingEncryptions(),
        () => sealed.needsReservation(),
        () => sealed.isRotationDue(0),
        () => sealed.prepareReservation(),
        () => sealed.prepareRotation(0),
        () => sealed.prepareTermDrop(1, () => false),
        () => sealed.applyKeyringChange(ciphertext),
        () => sealed.deriveKey(KeyPurpose.snapshotHmac),
        () => sealed.hmacIdentifier(IdentifierPurpose.token, 'id'),
      ];
      for (const operation of operations) {
        expect(codeOf(operation)).toBe(CoreErrorCode.sealed);
      }
    }
    barrier.seal();
  });

  it('Barrier.seal zeroes the root key, every data key and every identifier key it held', () => {
    const buffers = captureKeyBuffers();
    const rootKey = SecretKey.generate();
    const sealedKeyring = initializeKeyring(rootKey, { nowMs: 1 });
    const barrier = new Barrier();
    const rootBuffer = rootKey.reveal();
    barrier.unseal(rootKey, sealedKeyring);
    barrier.applyKeyringChange(barrier.prepareReservation().bytes);
    barrier.applyKeyringChange(barrier.prepareRotation(2).bytes);
    barrier.hmacIdentifier(IdentifierPurpose.lease, 'lease-1');
    barrier.decrypt('p', barrier.encrypt('p', value));
    expect(buffers.length).toBeGreaterThan(10);
    barrier.seal();
    for (const buffer of [rootBuffer, ...buffers]) {
      expect(buffer.every((byte) => byte === 0)).toBe(true);
    }
    expect(rootKey.isZeroed).toBe(true);
  });

  it('Barrier.unseal with a wrong root key or a corrupt keyring stays sealed and zeroes the key', () => {
    const { sealedKeyring } = openBarrier();
    const barrier = new Barrier();
    const wrongKey = SecretKey.generate();
    expect(
      codeOf(() => {
        barrier.unseal(wrongKey, sealedKeyring);
      }),
    ).toBe(CoreErrorCode.keyringCorrupt);
    expect(wrongKey.isZeroed).toBe(true);
    expect(barrier.isSealed).toBe(true);
  });

  it('Barrier.unseal refuses a second unseal and zeroes the key it was given', () => {
    const { barrier, rootKey, sealedKeyring } = openBarrier();
    const second = rootKey.clone();
    expect(
      codeOf(() => {
        barrier.unseal(second, sealedKeyring);
      }),
    ).toBe(CoreErrorCode.barrierAlreadyUnsealed);
    expect(second.isZeroed).toBe(true);
    expect(barrier.isSealed).toBe(false);
  });

  it('Barrier reads back after seal and unseal with the stored keyring', () => {
    const { barrier, rootKey } = openBarrier();
    const ciphertext = barrier.encrypt('secret/a', value);
    const stored = barrier.sealedKeyring();
    barrier.seal();
    barrier.unseal(rootKey.clone(), stored);
    expect(Buffer.from(barrier.decrypt('secret/a', ciphertext)).equals(value)).toBe(true);
    // A reservation earned before the seal is gone: the node reserves again before writing.
    expect(barrier.remainingEncryptions()).toBe(0);
    expect(barrier.needsReservation()).toBe(true);
  });

  it('Barrier.decrypt rejects every single-byte change with a typed integrity error', () => {
    const { barrier } = openBarrier();
    const ciphertext = barrier.encrypt('secret/a', value.subarray(0, 12));
    const integrity: readonly string[] = [
      CoreErrorCode.barrierDecryptFailed,
      CoreErrorCode.barrierInvalidCiphertext,
      CoreErrorCode.barrierUnknownTerm,
    ];
    for (let position = 0; position < ciphertext.byteLength; position++) {
      const tampered = Buffer.from(ciphertext);
      tampered[position] = (tampered[position] ?? 0) ^ 0x01;
      expect(integrity, `byte ${position}`).toContain(
        codeOf(() => barrier.decrypt('secret/a', tampered)),
      );
    }
  });

  it('Barrier.decrypt names an unknown term with its own code', () => {
    const { barrier } = openBarrier();
    const ciphertext = Buffer.from(barrier.encrypt('secret/a', value));
    ciphertext.writeUInt32BE(99, 1);
    expect(codeOf(() => barrier.decrypt('secret/a', ciphertext))).toBe(
      CoreErrorCode.barrierUnknownTerm,
    );
  });

  it('Barrier.deriveKey is bound to its purpose and term, and stable for both', () => {
    const { barrier } = openBarrier();
    const first = barrier.deriveKey(KeyPurpose.snapshotHmac);
    expect(barrier.deriveKey(KeyPurpose.snapshotHmac, { term: 1 }).equals(first)).toBe(true);
    expect(barrier.deriveKey('coffer/other-purpose/v1').equals(first)).toBe(false);
    barrier.applyKeyringChange(barrier.prepareRotation(5_000).bytes);
    expect(barrier.deriveKey(KeyPurpose.snapshotHmac).equals(first)).toBe(false);
    expect(barrier.deriveKey(KeyPurpose.snapshotHmac, { term: 1 }).equals(first)).toBe(true);
    expect(codeOf(() => barrier.deriveKey(KeyPurpose.snapshotHmac, { term: 9 }))).toBe(
      CoreErrorCode.barrierUnknownTerm,
    );
    expect(() => barrier.deriveKey('not a purpose')).toThrow(/malformed/);
  });

  it('Barrier.hmacIdentifier is stable across rotation and unseal, and differs by purpose', () => {
    const { barrier, rootKey } = openBarrier();
    const hash = barrier.hmacIdentifier(IdentifierPurpose.token, 'token-id-1');
    expect(hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hash).not.toContain('token-id-1');
    expect(barrier.hmacIdentifier(IdentifierPurpose.lease, 'token-id-1')).not.toBe(hash);
    expect(barrier.hmacIdentifier(IdentifierPurpose.token, 'token-id-2')).not.toBe(hash);
    barrier.applyKeyringChange(barrier.prepareRotation(5_000).bytes);
    expect(barrier.hmacIdentifier(IdentifierPurpose.token, 'token-id-1')).toBe(hash);
    const stored = barrier.sealedKeyring();
    barrier.seal();
    barrier.unseal(rootKey.clone(), stored);
    expect(barrier.hmacIdentifier(IdentifierPurpose.token, Buffer.from('token-id-1'))).toBe(hash);
  });

  it('Barrier never shows a key or a value in inspect, JSON, format or its errors', () => {
    const buffers = captureKeyBuffers();
    const { barrier, rootKey } = openBarrier();
    const ciphertext = Buffer.from(barrier.encrypt('secret/a', value));
    const change = barrier.prepareRotation(9);
    ciphertext[30] = (ciphertext[30] ?? 0) ^ 1;
    const error = ((): unknown => {
      try {
        return barrier.decrypt('secret/a', ciphertext);
      } catch (caught) {
        return caught;
      }
    })();
    const output = [
      inspect(barrier, { showHidden: true, depth: Infinity }),
      inspect(error, { showHidden: true, depth: Infinity }),
      inspect(change, { depth: Infinity }),
      JSON.stringify(barrier),
      JSON.stringify(barrier.keyringStatus()),
      format('%s %o %O %j', barrier, barrier, barrier, barrier),
    ].join('\n');
    const compacted = output.replace(/\s+/g, '');
    expect(output).not.toContain('canary');
    for (const buffer of [rootKey.reveal(), ...buffers]) {
      for (const spelling of [buffer.toString('hex'), buffer.toString('base64')]) {
        expect(compacted).not.toContain(spelling);
      }
    }
  });
});
