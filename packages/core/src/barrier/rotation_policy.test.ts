/**
 * Goal: the rotation policy validates its fields, and its decisions (rotation due, reservation
 * size, reservation low) follow the documented rules at their boundaries.
 * Method: pure functions over hand-built key terms; time is a number passed in (a fake clock),
 * never read.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import type { KeyTerm } from './keyring.ts';
import {
  encryptionsMaxDefault,
  isReservationLow,
  isRotationDue,
  reservationSize,
  rotationPolicyDefault,
  validateRotationPolicy,
} from './rotation_policy.ts';
import { SecretKey } from './secret_key.ts';

const day = 86_400_000;

function term(encryptions: number, installTimeMs = 0): KeyTerm {
  return { term: 1, key: SecretKey.generate(), installTimeMs, encryptions };
}

describe('rotation policy', () => {
  it('validateRotationPolicy fills in Vault-like defaults', () => {
    expect(validateRotationPolicy()).toEqual(rotationPolicyDefault);
    expect(rotationPolicyDefault.encryptionsMax).toBe(3_865_470_566);
    expect(encryptionsMaxDefault).toBeLessThan(2 ** 32);
    expect(rotationPolicyDefault.rotationIntervalMs).toBe(0);
  });

  it('validateRotationPolicy refuses out-of-range fields with a typed error', () => {
    const bad = [
      { encryptionsMax: 2 ** 32 },
      { encryptionsMax: 0 },
      { encryptionsMax: 1.5 },
      { rotationIntervalMs: -1 },
      { rotationIntervalMs: Number.NaN },
      { reservationEncryptions: 0 },
      { encryptionsMax: 10, reservationEncryptions: 11 },
    ];
    for (const options of bad) {
      expect(() => validateRotationPolicy(options)).toThrow(
        expect.objectContaining({ code: CoreErrorCode.barrierInvalidConfig }),
      );
    }
    expect(validateRotationPolicy({ encryptionsMax: 2 ** 32 - 1 }).encryptionsMax).toBe(
      2 ** 32 - 1,
    );
  });

  it('isRotationDue fires once less than one block is left under encryptionsMax', () => {
    const policy = validateRotationPolicy({ encryptionsMax: 100, reservationEncryptions: 10 });
    expect(isRotationDue(policy, term(90), 0)).toBe(false);
    expect(isRotationDue(policy, term(91), 0)).toBe(true);
    expect(isRotationDue(policy, term(100), 0)).toBe(true);
  });

  it('isRotationDue fires after the interval on a fake clock, and never when it is off', () => {
    const policy = validateRotationPolicy({ rotationIntervalMs: 90 * day });
    const installed = term(0, 5 * day);
    expect(isRotationDue(policy, installed, 95 * day - 1)).toBe(false);
    expect(isRotationDue(policy, installed, 95 * day)).toBe(true);
    expect(isRotationDue(rotationPolicyDefault, installed, 10_000 * day)).toBe(false);
  });

  it('reservationSize grants a full block, then the partial rest, then nothing', () => {
    const policy = validateRotationPolicy({ encryptionsMax: 100, reservationEncryptions: 30 });
    expect(reservationSize(policy, term(0))).toBe(30);
    expect(reservationSize(policy, term(90))).toBe(10);
    expect(reservationSize(policy, term(100))).toBe(0);
    // A lowered encryptionsMax below the count already reserved grants nothing.
    expect(reservationSize(policy, term(150))).toBe(0);
  });

  it('isReservationLow fires under half a block', () => {
    const policy = validateRotationPolicy({ reservationEncryptions: 9 });
    expect(isReservationLow(policy, 5)).toBe(false);
    expect(isReservationLow(policy, 4)).toBe(true);
    expect(isReservationLow(policy, 0)).toBe(true);
  });
});
