/**
 * Keyring changes: the replicated entries that rotate the keyring, reserve encryptions and drop
 * old terms. A change is the whole next keyring sealed under the root key, so the Raft log and
 * storage only ever see ciphertext, and the stored keyring after applying a change is exactly
 * the change's bytes on every replica.
 *
 * ```
 *  active node                               every replica (the active node too)
 *  ───────────                               ───────────────────────────────────
 *  prepare*()  → KeyringChange.bytes ──Raft──▶ applyKeyringChange(bytes)
 *                (next keyring, sealed)          open under the root key
 *                                                check generation = current + 1 and the rules
 *                                                install it, zero the old keyring
 * ```
 *
 * Two changes prepared on the same generation race: the first applied wins and the second is
 * refused as stale on every replica alike; its proposer prepares it again.
 */
import type { Keyring } from './keyring.ts';
import { encodeKeyring } from './keyring_codec.ts';
import { planInitialKeyring, planReservation, planRotation, planTermDrop } from './keyring_plan.ts';
import { SecretKey } from './secret_key.ts';

/** What a keyring change does. */
export type KeyringChangeKind = 'reservation' | 'rotation' | 'termDrop';

/**
 * A keyring change ready to propose. Only `bytes` goes into the log; the other fields are for
 * the proposer's logs and metrics and hold nothing secret.
 */
export interface KeyringChange {
  /** What the change does. */
  readonly kind: KeyringChangeKind;
  /** The keyring generation the change makes; it applies only on generation - 1. */
  readonly generation: number;
  /** The term reserved under, rotated to, or dropped. */
  readonly term: number;
  /** Encryptions the change reserves (0 for a term drop). */
  readonly encryptions: number;
  /** The next keyring, sealed under the root key: the replicated entry. */
  readonly bytes: Uint8Array;
}

/**
 * Creates the first keyring of a cluster (generation 1, term 1, nothing reserved) and returns it
 * sealed under `rootKey`, to be stored and then passed to `Barrier.unseal`. The caller keeps
 * ownership of `rootKey`; the new keys are zeroed before this returns.
 */
export function initializeKeyring(
  rootKey: SecretKey,
  options: { readonly nowMs: number },
): Uint8Array {
  const dataKey = SecretKey.generate();
  const identifierKey = SecretKey.generate();
  try {
    return encodeKeyring(planInitialKeyring({ dataKey, identifierKey }, options.nowMs), rootKey);
  } finally {
    dataKey.zero();
    identifierKey.zero();
  }
}

/** Seals the next keyring with `encryptions` more reserved under the active term. */
export function prepareReservationChange(
  keyring: Keyring,
  rootKey: SecretKey,
  encryptions: number,
): KeyringChange {
  const next = planReservation(keyring.contents, encryptions);
  return {
    kind: 'reservation',
    generation: next.generation,
    term: next.activeTerm,
    encryptions,
    bytes: encodeKeyring(next, rootKey),
  };
}

/**
 * Seals the next keyring with a fresh random data key as the new active term, installed at
 * `installTimeMs` with `encryptions` reserved. The new key is zeroed before this returns: it
 * lives on only inside the sealed bytes until the change is applied.
 */
export function prepareRotationChange(
  keyring: Keyring,
  rootKey: SecretKey,
  next: { readonly installTimeMs: number; readonly encryptions: number },
): KeyringChange {
  const key = SecretKey.generate();
  try {
    const contents = planRotation(keyring.contents, { key, ...next });
    return {
      kind: 'rotation',
      generation: contents.generation,
      term: contents.activeTerm,
      encryptions: next.encryptions,
      bytes: encodeKeyring(contents, rootKey),
    };
  } finally {
    key.zero();
  }
}

/** Seals the next keyring without `term`, which the caller checked is held and not active. */
export function prepareTermDropChange(
  keyring: Keyring,
  rootKey: SecretKey,
  term: number,
): KeyringChange {
  const next = planTermDrop(keyring.contents, term);
  return {
    kind: 'termDrop',
    generation: next.generation,
    term,
    encryptions: 0,
    bytes: encodeKeyring(next, rootKey),
  };
}
