/**
 * Barrier: the security barrier between core and storage (STYLE.md 2.6). Everything core writes
 * goes through `encrypt` before it reaches storage or the Raft log, and everything it reads comes
 * back through `decrypt`, which authenticates before it returns a byte.
 *
 * ```
 *              unseal(rootKey, sealedKeyring)
 *   ┌────────┐ ─────────────────────────────▶ ┌──────────┐ ──┐ encrypt, decrypt, prepare*,
 *   │ sealed │                                │ unsealed │   │ applyKeyringChange, deriveKey,
 *   └────────┘ ◀───────────────────────────── └──────────┘ ◀─┘ hmacIdentifier
 *     ▲  │            seal(): zero every key
 *     └──┘ every operation throws COFFER_CORE_SEALED
 * ```
 *
 * The barrier does not know Raft. The active node prepares keyring changes (rotation, encryption
 * reservations, term drops) and proposes their bytes; every replica applies them in log order
 * with `applyKeyringChange`. See docs/design/barrier.md.
 */
import assert from 'node:assert/strict';

import { CoreError, CoreErrorCode } from '../errors.ts';
import { AssociatedData, describePath, readCiphertextTerm } from './ciphertext_format.ts';
import { EncryptionAllowance } from './encryption_allowance.ts';
import { deriveKey, IdentifierHasher } from './key_derivation.ts';
import { Keyring, type KeyringStatus } from './keyring.ts';
import {
  type KeyringChange,
  prepareReservationChange,
  prepareRotationChange,
  prepareTermDropChange,
} from './keyring_change.ts';
import { decodeKeyring } from './keyring_codec.ts';
import {
  checkKeyringTransition,
  type KeyringChangeOutcome,
  type TermReferencedPredicate,
} from './keyring_transition.ts';
import { NoncePool } from './nonce_pool.ts';
import {
  isReservationLow,
  isRotationDue,
  reservationSize,
  type RotationPolicy,
  validateRotationPolicy,
} from './rotation_policy.ts';
import type { SecretKey } from './secret_key.ts';
import { type CipherScratch, TermCipher } from './term_cipher.ts';

/** Options of a Barrier. */
export interface BarrierOptions {
  /** When to rotate and how much to reserve; defaults in rotationPolicyDefault. */
  readonly rotation?: Partial<RotationPolicy>;
}

/** Options of `Barrier.applyKeyringChange`. */
export interface ApplyKeyringChangeOptions {
  /**
   * Whether stored values still reference a term, at this point of the log. Needed only by a
   * change that drops a term; without it such a change is refused (every term counts as used).
   */
  readonly isTermReferenced?: TermReferencedPredicate;
}

/** What the barrier holds while unsealed; all of it is dropped, and its keys zeroed, on seal. */
interface UnsealedState {
  readonly rootKey: SecretKey;
  readonly keyring: Keyring;
  readonly sealedKeyring: Uint8Array;
  readonly ciphers: ReadonlyMap<number, TermCipher>;
  readonly active: TermCipher;
  readonly identifiers: IdentifierHasher;
}

/**
 * The barrier of one node. Synchronous: every method runs to completion, so its scratch
 * buffers are never shared between two calls in flight.
 *
 * Invariant: while unsealed, `active` encrypts under the keyring's active term and `ciphers`
 * holds one TermCipher per keyring term; while sealed, no key is held and none is non-zero.
 */
export class Barrier {
  readonly #policy: RotationPolicy;
  readonly #scratch: CipherScratch = {
    nonces: new NoncePool(),
    associatedData: new AssociatedData(),
  };
  readonly #allowance = new EncryptionAllowance();
  #state: UnsealedState | undefined;

  /** Creates a sealed barrier. Throws COFFER_CORE_BARRIER_INVALID_CONFIG for a bad policy. */
  constructor(options: BarrierOptions = {}) {
    this.#policy = validateRotationPolicy(options.rotation);
  }

  /** True until `unseal` succeeds, and again after `seal`. */
  get isSealed(): boolean {
    return this.#state === undefined;
  }

  /** The rotation policy in force (validated, defaults filled in). */
  get rotationPolicy(): RotationPolicy {
    return this.#policy;
  }

  /**
   * Opens `sealedKeyring` with `rootKey` and starts serving. The barrier takes ownership of
   * `rootKey` whatever happens: it zeroes it on seal, or at once if unsealing fails. Throws
   * COFFER_CORE_KEYRING_CORRUPT when the keyring does not open (tampered, or a wrong root key).
   */
  unseal(rootKey: SecretKey, sealedKeyring: Uint8Array): void {
    if (this.#state !== undefined) {
      rootKey.zero();
      throw new CoreError(
        CoreErrorCode.barrierAlreadyUnsealed,
        'Cannot unseal the barrier: it is already unsealed; seal it first to unseal with another key',
      );
    }
    try {
      const keyring = new Keyring(decodeKeyring(sealedKeyring, rootKey));
      this.#state = this.#buildState(rootKey, keyring, Uint8Array.from(sealedKeyring));
    } catch (error) {
      rootKey.zero();
      throw error;
    }
  }

  /** Zeroes every key (root key, data keys, identifier keys) and refuses all work. Idempotent. */
  seal(): void {
    const state = this.#state;
    this.#state = undefined;
    this.#allowance.clear();
    this.#scratch.nonces.discard();
    if (state !== undefined) {
      zeroState(state);
    }
  }

  /**
   * Encrypts `plaintext` for the logical key `path` under the active term. Throws
   * COFFER_CORE_BARRIER_RESERVATION_EXHAUSTED when this node holds no reservation left under the
   * active term (see needsReservation).
   */
  encrypt(path: string, plaintext: Uint8Array): Uint8Array {
    const active = this.#unsealed('encrypt').active;
    if (!this.#allowance.take(active.term)) {
      throw new CoreError(
        CoreErrorCode.barrierReservationExhausted,
        `Cannot encrypt under term ${active.term}: this node holds no encryption reservation ` +
          'left; propose prepareReservation() and retry once it is applied',
      );
    }
    return active.encrypt(path, plaintext);
  }

  /**
   * Authenticates and decrypts a value read at `path`. Never returns unauthenticated bytes:
   * throws COFFER_CORE_BARRIER_INVALID_CIPHERTEXT (too short, unknown version),
   * COFFER_CORE_BARRIER_UNKNOWN_TERM (term not in the keyring) or
   * COFFER_CORE_BARRIER_DECRYPT_FAILED (tampered, corrupted, or moved from another path).
   */
  decrypt(path: string, ciphertext: Uint8Array): Uint8Array {
    const state = this.#unsealed('decrypt');
    const term = readCiphertextTerm(path, ciphertext);
    const cipher = state.ciphers.get(term);
    if (cipher === undefined) {
      throw unknownTerm(term, `decrypt the value at ${describePath(path)}`);
    }
    return cipher.decrypt(path, ciphertext);
  }

  /** The keyring's status: active term, its install time and encryption count, every term. */
  keyringStatus(): KeyringStatus {
    return this.#unsealed('read the keyring status').keyring.status();
  }

  /** A copy of the sealed keyring in force: what storage should hold for this generation. */
  sealedKeyring(): Uint8Array {
    return Uint8Array.from(this.#unsealed('read the keyring').sealedKeyring);
  }

  /** Encryptions this node may still do under the active term before it needs a reservation. */
  remainingEncryptions(): number {
    return this.#allowance.remaining(this.#unsealed('read the allowance').active.term);
  }

  /**
   * True when this node should propose a reservation now: under half a block is left and the
   * active term can still take one. NB: stays true until a reservation applies; the caller keeps
   * at most one in flight (duplicates on one generation are refused as stale anyway).
   */
  needsReservation(): boolean {
    const active = this.#unsealed('check the reservation').keyring.getActive();
    return (
      reservationSize(this.#policy, active) > 0 &&
      isReservationLow(this.#policy, this.#allowance.remaining(active.term))
    );
  }

  /** True when the active term should rotate at `nowMs` (encryption count or interval). */
  isRotationDue(nowMs: number): boolean {
    const active = this.#unsealed('check rotation').keyring.getActive();
    return isRotationDue(this.#policy, active, nowMs);
  }

  /**
   * Prepares a change reserving the next block of encryptions under the active term for this
   * node. Throws COFFER_CORE_BARRIER_ROTATION_REQUIRED when the term reached encryptionsMax.
   */
  prepareReservation(): KeyringChange {
    const state = this.#unsealed('reserve encryptions');
    const active = state.keyring.getActive();
    const encryptions = reservationSize(this.#policy, active);
    if (encryptions === 0) {
      throw new CoreError(
        CoreErrorCode.barrierRotationRequired,
        `Cannot reserve encryptions under term ${active.term}: it reached its limit of ` +
          `${this.#policy.encryptionsMax}; propose prepareRotation() first`,
      );
    }
    return this.#expect(prepareReservationChange(state.keyring, state.rootKey, encryptions));
  }

  /**
   * Prepares a rotation to a fresh random data key installed at `nowMs` (ms since the epoch,
   * fixed here so every replica records the same time), with this node's first block reserved.
   */
  prepareRotation(nowMs: number): KeyringChange {
    const state = this.#unsealed('rotate the keyring');
    assert(Number.isSafeInteger(nowMs) && nowMs >= 0, 'nowMs is an integer count of ms');
    const next = { installTimeMs: nowMs, encryptions: this.#policy.reservationEncryptions };
    return this.#expect(prepareRotationChange(state.keyring, state.rootKey, next));
  }

  /**
   * Prepares a change dropping `term`, after which values under it no longer decrypt. Throws
   * COFFER_CORE_BARRIER_UNKNOWN_TERM for a term not held, and COFFER_CORE_BARRIER_TERM_IN_USE for
   * the active term or one `isTermReferenced` reports in use. The same check runs again at apply.
   */
  prepareTermDrop(term: number, isTermReferenced: TermReferencedPredicate): KeyringChange {
    const state = this.#unsealed('drop a keyring term');
    if (state.keyring.findTerm(term) === undefined) {
      throw unknownTerm(term, 'drop it');
    }
    if (term === state.active.term || isTermReferenced(term)) {
      throw new CoreError(
        CoreErrorCode.barrierTermInUse,
        `Cannot drop term ${term}: it is the active term or stored values still reference it; ` +
          'rewrite those values under the active term first',
      );
    }
    return prepareTermDropChange(state.keyring, state.rootKey, term);
  }

  /**
   * Applies a keyring change read from the log. Deterministic: the outcome depends only on the
   * keyring, the change and `isTermReferenced`, so every replica reaches the same one. A refusal
   * changes nothing. Throws COFFER_CORE_KEYRING_CORRUPT when the bytes do not open.
   */
  applyKeyringChange(
    bytes: Uint8Array,
    options: ApplyKeyringChangeOptions = {},
  ): KeyringChangeOutcome {
    const state = this.#unsealed('apply a keyring change');
    const next = decodeKeyring(bytes, state.rootKey);
    const outcome = checkKeyringTransition(state.keyring.contents, next, options.isTermReferenced);
    const keyring = new Keyring(next);
    if (!outcome.applied) {
      keyring.zero();
      return outcome;
    }
    this.#state = this.#buildState(state.rootKey, keyring, Uint8Array.from(bytes));
    state.keyring.zero();
    state.identifiers.zero();
    this.#allowance.onApplied(bytes, next.generation);
    return outcome;
  }

  /**
   * Replaces the keyring with one read from a restored state snapshot (a follower that was far
   * behind skips the changes in between). It must open under the same root key and not be
   * older than the keyring in force; an equal one is a no-op. Throws
   * COFFER_CORE_KEYRING_CORRUPT when it does not open or goes back in time.
   */
  adoptKeyring(sealedKeyring: Uint8Array): void {
    const state = this.#unsealed('adopt a keyring');
    const next = decodeKeyring(sealedKeyring, state.rootKey);
    if (next.generation < state.keyring.contents.generation) {
      throw new CoreError(
        CoreErrorCode.keyringCorrupt,
        `Cannot adopt keyring generation ${next.generation}: generation ${state.keyring.contents.generation} is in force; restore a newer snapshot`,
      );
    }
    this.#state = this.#buildState(
      state.rootKey,
      new Keyring(next),
      Uint8Array.from(sealedKeyring),
    );
    state.keyring.zero();
    state.identifiers.zero();
    this.#allowance.clear();
  }

  /**
   * Derives a key for `purpose` (a KeyPurpose such as "coffer/snapshot-hmac/v1") from the data
   * key of `options.term`, or of the active term. The caller owns the result and zeroes it.
   */
  deriveKey(purpose: string, options: { readonly term?: number } = {}): SecretKey {
    const state = this.#unsealed('derive a key');
    const term = options.term ?? state.active.term;
    const entry = state.keyring.findTerm(term);
    if (entry === undefined) {
      throw unknownTerm(term, 'derive a key from it');
    }
    return deriveKey(entry.key, purpose);
  }

  /**
   * Derives a key for `purpose` from the keyring's identifier key, which no rotation replaces:
   * for keys every member must derive the same whatever keyring generation it holds, such as
   * the HMAC key of state snapshots that a lagging follower installs. The caller zeroes it.
   */
  deriveStableKey(purpose: string): SecretKey {
    return deriveKey(this.#unsealed('derive a key').keyring.contents.identifierKey, purpose);
  }

  /**
   * The salted hash of an identifier (an IdentifierPurpose such as "token", and the id) as 43
   * base64url characters: what storage holds instead of the id. Stable across rotations.
   */
  hmacIdentifier(purpose: string, value: string | Uint8Array): string {
    return this.#unsealed('hash an identifier').identifiers.hash(purpose, value);
  }

  #unsealed(operation: string): UnsealedState {
    const state = this.#state;
    if (state === undefined) {
      throw new CoreError(
        CoreErrorCode.sealed,
        `Cannot ${operation}: the barrier is sealed; unseal the node first`,
      );
    }
    return state;
  }

  #expect(change: KeyringChange): KeyringChange {
    this.#allowance.expect({
      bytes: Uint8Array.from(change.bytes),
      generation: change.generation,
      term: change.term,
      encryptions: change.encryptions,
    });
    return change;
  }

  #buildState(rootKey: SecretKey, keyring: Keyring, sealedKeyring: Uint8Array): UnsealedState {
    const ciphers = new Map(
      keyring.contents.terms.map((entry) => [
        entry.term,
        new TermCipher(entry.term, entry.key, this.#scratch),
      ]),
    );
    const active = ciphers.get(keyring.contents.activeTerm);
    assert(active !== undefined, 'a Keyring holds its active term');
    const identifiers = new IdentifierHasher(keyring.contents.identifierKey);
    return { rootKey, keyring, sealedKeyring, ciphers, active, identifiers };
  }
}

function zeroState(state: UnsealedState): void {
  state.identifiers.zero();
  state.keyring.zero();
  state.rootKey.zero();
}

function unknownTerm(term: number, action: string): CoreError {
  return new CoreError(
    CoreErrorCode.barrierUnknownTerm,
    `Cannot ${action}: keyring term ${term} is not in the keyring (dropped, or never installed); ` +
      'restore the value or the keyring from a backup',
  );
}
