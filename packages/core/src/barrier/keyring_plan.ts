/**
 * Keyring plans: the next keyring contents for each kind of keyring change, as pure functions of
 * the current contents. The active node builds a plan, seals it under the root key and proposes
 * the bytes; the plan itself is then dropped.
 *
 * NB: a plan borrows the keys of the contents it was built from (and the new key of a rotation);
 * it owns none of them, so nothing here zeroes anything.
 */
import assert from 'node:assert/strict';

import { type KeyringContents, type KeyTerm, uint32Max } from './keyring.ts';
import { keyringTermsMax } from './keyring_codec.ts';
import type { SecretKey } from './secret_key.ts';

/** The contents of a brand-new keyring: term 1, nothing reserved yet. */
export function planInitialKeyring(
  keys: { readonly dataKey: SecretKey; readonly identifierKey: SecretKey },
  installTimeMs: number,
): KeyringContents {
  return {
    generation: 1,
    activeTerm: 1,
    identifierKey: keys.identifierKey,
    terms: [{ term: 1, key: keys.dataKey, installTimeMs, encryptions: 0 }],
  };
}

/** The next contents with `encryptions` more reserved under the active term. */
export function planReservation(current: KeyringContents, encryptions: number): KeyringContents {
  const terms = current.terms.map((entry): KeyTerm => {
    if (entry.term !== current.activeTerm) {
      return entry;
    }
    assert(entry.encryptions + encryptions <= uint32Max, 'a reservation fits in a uint32');
    return { ...entry, encryptions: entry.encryptions + encryptions };
  });
  return { ...current, generation: current.generation + 1, terms };
}

/**
 * The next contents with a new active term for `key`, installed at `installTimeMs`, with
 * `encryptions` already reserved under it for the proposer.
 */
export function planRotation(
  current: KeyringContents,
  next: { readonly key: SecretKey; readonly installTimeMs: number; readonly encryptions: number },
): KeyringContents {
  const term = current.activeTerm + 1;
  assert(term <= uint32Max, 'the keyring term fits in a uint32');
  assert(current.terms.length < keyringTermsMax, 'the keyring holds fewer than 65535 terms');
  const added: KeyTerm = {
    term,
    key: next.key,
    installTimeMs: next.installTimeMs,
    encryptions: next.encryptions,
  };
  return {
    ...current,
    generation: current.generation + 1,
    activeTerm: term,
    terms: [...current.terms, added],
  };
}

/** The next contents without `term`. The caller checked that `term` is held and not active. */
export function planTermDrop(current: KeyringContents, term: number): KeyringContents {
  assert(term !== current.activeTerm, 'the active term is never dropped');
  return {
    ...current,
    generation: current.generation + 1,
    terms: current.terms.filter((entry) => entry.term !== term),
  };
}
