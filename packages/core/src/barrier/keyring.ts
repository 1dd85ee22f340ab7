/**
 * Keyring: the data keys of the barrier, one per term, plus the identifier key. The keyring is
 * replicated state: every replica holds the same contents after applying the same keyring
 * changes (keyring_change.ts), and it is stored only encrypted under the root key
 * (keyring_codec.ts).
 *
 * Key hierarchy: unseal keys or HSM → root key → keyring → data keys → values.
 */
import assert from 'node:assert/strict';

import type { SecretKey } from './secret_key.ts';

/** The largest keyring term, and the largest per-term encryption count: both are uint32. */
export const uint32Max = 0xffff_ffff;

/** One data key and what the cluster knows about its use. */
export interface KeyTerm {
  /** The term number, from 1; written into every ciphertext header. */
  readonly term: number;
  /** The AES-256-GCM data key. */
  readonly key: SecretKey;
  /** When the term was installed, in ms since the epoch, fixed by the node that rotated. */
  readonly installTimeMs: number;
  /**
   * Encryptions reserved under this key across the cluster: an upper bound on the encryptions
   * done, since a reservation counts in full whether or not its holder used it all.
   */
  readonly encryptions: number;
}

/** The plain contents of a keyring. Terms are sorted by ascending term. */
export interface KeyringContents {
  /** Increases by one with every applied keyring change; a change names the next one. */
  readonly generation: number;
  /** The term new writes use; always the newest of `terms`. */
  readonly activeTerm: number;
  /**
   * The key identifiers are hashed under (hmacIdentifier). NB: never rotated, like Vault's
   * salts: a rotation would change every stored identifier hash.
   */
  readonly identifierKey: SecretKey;
  /** Every term that can still decrypt, oldest first. */
  readonly terms: readonly KeyTerm[];
}

/** A term as the key-status endpoint shows it: no key material. */
export interface KeyTermStatus {
  /** The term number. */
  readonly term: number;
  /** When the term was installed, in ms since the epoch. */
  readonly installTimeMs: number;
  /** Encryptions reserved under the term cluster-wide (an upper bound on those done). */
  readonly encryptions: number;
}

/** The keyring's status, like Vault's sys/key-status: the active term plus every term. */
export interface KeyringStatus extends KeyTermStatus {
  /** The keyring generation. */
  readonly generation: number;
  /** Every term the keyring holds, oldest first. */
  readonly terms: readonly KeyTermStatus[];
}

/**
 * An owned keyring: it holds the SecretKeys of its contents and zeroes all of them on `zero()`.
 *
 * Invariant: terms are strictly ascending, `activeTerm` is the newest, and the keyring is never
 * mutated; a change builds a new Keyring and the barrier zeroes the old one.
 */
export class Keyring {
  readonly #contents: KeyringContents;
  readonly #byTerm: ReadonlyMap<number, KeyTerm>;

  /** Takes ownership of the keys in `contents`; asserts the invariant. */
  constructor(contents: KeyringContents) {
    this.#contents = contents;
    this.#byTerm = new Map(contents.terms.map((entry) => [entry.term, entry]));
    assert(checkKeyringShape(contents) === undefined, 'keyring contents are malformed');
  }

  /** The contents; the keys stay owned by this keyring. */
  get contents(): KeyringContents {
    return this.#contents;
  }

  /** The active term's entry. */
  getActive(): KeyTerm {
    const active = this.#byTerm.get(this.#contents.activeTerm);
    assert(active !== undefined, 'the active term is in the keyring');
    return active;
  }

  /** The entry of `term`, or undefined when the keyring does not hold it. */
  findTerm(term: number): KeyTerm | undefined {
    return this.#byTerm.get(term);
  }

  /** The status without key material. */
  status(): KeyringStatus {
    const active = this.getActive();
    return {
      generation: this.#contents.generation,
      term: active.term,
      installTimeMs: active.installTimeMs,
      encryptions: active.encryptions,
      terms: this.#contents.terms.map(({ term, installTimeMs, encryptions }) => ({
        term,
        installTimeMs,
        encryptions,
      })),
    };
  }

  /** Zeroes every key this keyring owns. */
  zero(): void {
    this.#contents.identifierKey.zero();
    for (const entry of this.#contents.terms) {
      entry.key.zero();
    }
  }
}

/**
 * Returns why `contents` breaks the keyring's shape rules, or undefined when it keeps them.
 * Used to assert our own keyrings and to validate decoded ones.
 */
export function checkKeyringShape(contents: KeyringContents): string | undefined {
  if (!isUint32(contents.generation) || contents.generation < 1) {
    return `generation ${contents.generation} is not in 1..${uint32Max}`;
  }
  if (contents.terms.length === 0) {
    return 'the keyring holds no term';
  }
  let previous = 0;
  for (const entry of contents.terms) {
    if (!isUint32(entry.term) || entry.term <= previous) {
      return `term ${entry.term} is out of order or out of range`;
    }
    if (!Number.isSafeInteger(entry.installTimeMs) || entry.installTimeMs < 0) {
      return `term ${entry.term} has an invalid install time`;
    }
    if (!isUint32(entry.encryptions)) {
      return `term ${entry.term} has an encryption count out of range`;
    }
    previous = entry.term;
  }
  if (previous !== contents.activeTerm) {
    return `active term ${contents.activeTerm} is not the newest term of the keyring`;
  }
  return undefined;
}

/** True for an integer in 0..2^32-1. */
export function isUint32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= uint32Max;
}
