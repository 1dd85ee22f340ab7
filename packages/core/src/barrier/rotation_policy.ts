/**
 * RotationPolicy: when the keyring rotates by itself, and how many encryptions a node reserves
 * at a time. These are decisions for the active node only; applying a keyring change never reads
 * the policy, so replicas with different policies still apply the log identically.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { KeyTerm } from './keyring.ts';
import { uint32Max } from './keyring.ts';

/** Vault's default `max_operations`: about 90% of 2^32, under NIST SP 800-38D's limit for random nonces. */
export const encryptionsMaxDefault = 3_865_470_566;
/** How many encryptions one reservation asks for by default. */
export const reservationEncryptionsDefault = 1_000_000;

/** When to rotate and how much to reserve. */
export interface RotationPolicy {
  /**
   * Rotate once this many encryptions were reserved under the active term. At most 2^32 - 1:
   * NIST SP 800-38D §8.3 caps a key with random 96-bit nonces at 2^32 encryptions.
   */
  readonly encryptionsMax: number;
  /** Rotate once the active term is this old, in ms; 0 turns time-based rotation off. */
  readonly rotationIntervalMs: number;
  /** Encryptions one reservation asks for; at most `encryptionsMax`. */
  readonly reservationEncryptions: number;
}

/** The defaults: rotate after Vault's 3,865,470,566 encryptions, no interval, blocks of 1,000,000. */
export const rotationPolicyDefault: RotationPolicy = {
  encryptionsMax: encryptionsMaxDefault,
  rotationIntervalMs: 0,
  reservationEncryptions: reservationEncryptionsDefault,
};

/**
 * Fills in defaults and checks every field. Throws COFFER_CORE_BARRIER_INVALID_CONFIG naming the
 * first field out of range.
 */
export function validateRotationPolicy(options: Partial<RotationPolicy> = {}): RotationPolicy {
  const policy: RotationPolicy = { ...rotationPolicyDefault, ...options };
  if (!isCount(policy.encryptionsMax, uint32Max)) {
    throw invalid(`encryptionsMax ${policy.encryptionsMax} is not an integer in 1..${uint32Max}`);
  }
  if (!Number.isSafeInteger(policy.rotationIntervalMs) || policy.rotationIntervalMs < 0) {
    throw invalid(
      `rotationIntervalMs ${policy.rotationIntervalMs} is not a non-negative integer (0 is off)`,
    );
  }
  if (!isCount(policy.reservationEncryptions, policy.encryptionsMax)) {
    throw invalid(
      `reservationEncryptions ${policy.reservationEncryptions} is not an integer in ` +
        `1..encryptionsMax (${policy.encryptionsMax})`,
    );
  }
  return policy;
}

/**
 * True when the active term should rotate at `nowMs`: less than one full reservation is left
 * under `encryptionsMax`, or the term is older than `rotationIntervalMs`. Rotating one block
 * early keeps writes flowing: the last, partial block can still be reserved meanwhile.
 */
export function isRotationDue(policy: RotationPolicy, active: KeyTerm, nowMs: number): boolean {
  const left = policy.encryptionsMax - active.encryptions;
  if (left < policy.reservationEncryptions) {
    return true;
  }
  return policy.rotationIntervalMs > 0 && nowMs - active.installTimeMs >= policy.rotationIntervalMs;
}

/** How many encryptions the next reservation under `active` may take; 0 when none is left. */
export function reservationSize(policy: RotationPolicy, active: KeyTerm): number {
  return Math.max(
    0,
    Math.min(policy.reservationEncryptions, policy.encryptionsMax - active.encryptions),
  );
}

/** True when a node holding `remaining` encryptions should ask for the next block now. */
export function isReservationLow(policy: RotationPolicy, remaining: number): boolean {
  return remaining < Math.ceil(policy.reservationEncryptions / 2);
}

function isCount(value: number, max: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= max;
}

function invalid(problem: string): CoreError {
  return new CoreError(
    CoreErrorCode.barrierInvalidConfig,
    `Cannot configure keyring rotation: ${problem}; fix the barrier options`,
  );
}
