/**
 * EncryptionAllowance: how many encryptions this node may still do, and under which term. It is
 * local, never replicated: a node earns it only when a keyring change it prepared itself (a
 * reservation, or a rotation with its first block) is applied from the log. The cluster-wide
 * count in the keyring already includes the whole block, so a node that crashes or loses
 * leadership with part of a block unused only makes the count an over-estimate.
 *
 * Invariant: encryptions done under a term by this node ≤ what its applied reservations under
 * that term added to the replicated count.
 */

/** A keyring change this node prepared and proposed, awaiting its apply. */
export interface PendingReservation {
  /** The sealed keyring bytes proposed; matched byte for byte at apply (the nonce makes them unique). */
  readonly bytes: Uint8Array;
  /** The generation the change makes. */
  readonly generation: number;
  /** The term the encryptions are reserved under. */
  readonly term: number;
  /** How many encryptions the change reserves. */
  readonly encryptions: number;
}

/** Pending changes kept at most; older ones are forgotten (they only ever over-count). */
export const pendingReservationsMax = 8;

/** The local encryption budget of one node. */
export class EncryptionAllowance {
  #term = 0;
  #remaining = 0;
  #pending: PendingReservation[] = [];

  /** Spends one encryption under `term`; false when this node holds none under it. */
  take(term: number): boolean {
    if (term !== this.#term || this.#remaining === 0) {
      return false;
    }
    this.#remaining--;
    return true;
  }

  /** Encryptions left under `term`. */
  remaining(term: number): number {
    return term === this.#term ? this.#remaining : 0;
  }

  /** Remembers a change this node proposed, so its apply can credit it. */
  expect(pending: PendingReservation): void {
    this.#pending.push(pending);
    if (this.#pending.length > pendingReservationsMax) {
      this.#pending.shift();
    }
  }

  /**
   * Called for every applied keyring change: credits the block if this node proposed the change,
   * and forgets every pending change of the same or an older generation, which can no longer
   * apply.
   */
  onApplied(bytes: Uint8Array, generation: number): void {
    const mine = this.#pending.find(
      (pending) => pending.generation === generation && Buffer.compare(bytes, pending.bytes) === 0,
    );
    this.#pending = this.#pending.filter((pending) => pending.generation > generation);
    if (mine === undefined) {
      return;
    }
    if (mine.term !== this.#term) {
      this.#term = mine.term;
      this.#remaining = 0;
    }
    this.#remaining += mine.encryptions;
  }

  /** Forgets everything: after a seal, nothing earned before may be spent. */
  clear(): void {
    this.#term = 0;
    this.#remaining = 0;
    this.#pending = [];
  }
}
