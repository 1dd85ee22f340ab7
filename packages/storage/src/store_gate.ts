/**
 * StoreGate: the lifecycle both LevelDB stores share. Writes (and reads that must not race one)
 * run one at a time, in call order; a failed write stops the store for good, and every call
 * after it, or after close, is refused with a typed error naming what was attempted.
 *
 * Invariant: once failed or closed, a store never runs queued or new work.
 */
import { StorageError, StorageErrorCode } from './errors.ts';

type GateState =
  | { readonly kind: 'open' }
  | { readonly kind: 'closed' }
  | { readonly kind: 'failed'; readonly error: StorageError };

/** Serializes a store's work and refuses it once the store failed or closed. */
export class StoreGate {
  readonly #where: () => string;
  #state: GateState = { kind: 'open' };
  #queue: Promise<unknown> = Promise.resolve();

  /** where() names the store's location in refusals. */
  constructor(where: () => string) {
    this.#where = where;
  }

  get isOpen(): boolean {
    return this.#state.kind === 'open';
  }

  /** Throws the typed refusal unless the store is open and has not failed. */
  check(what: string): void {
    const refusal = this.#refusal(what);
    if (refusal !== undefined) {
      throw refusal;
    }
  }

  /** Runs run() after the work queued before it, unless the store failed or closed meanwhile. */
  exclusive<T>(what: string, run: () => Promise<T>): Promise<T> {
    const refusal = this.#refusal(what);
    if (refusal !== undefined) {
      return Promise.reject(refusal);
    }
    const result = this.#queue.then(() => {
      // A write queued before this one may have failed the store meanwhile.
      const failed = this.#state.kind === 'failed' ? this.#refusal(what) : undefined;
      return failed === undefined ? run() : Promise.reject(failed);
    });
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Marks the store failed for good; returns the error for the caller to throw. */
  fail(error: StorageError): StorageError {
    this.#state = { kind: 'failed', error };
    return error;
  }

  /** Refuses new work at once and runs closeDatabase once queued work finishes. Idempotent. */
  close(closeDatabase: () => Promise<void>): Promise<void> {
    if (this.#state.kind === 'closed') {
      return this.#queue.then(() => undefined);
    }
    this.#state = { kind: 'closed' };
    const closed = this.#queue.then(closeDatabase);
    this.#queue = closed.catch(() => undefined);
    return closed;
  }

  #refusal(what: string): StorageError | undefined {
    const state = this.#state;
    switch (state.kind) {
      case 'open':
        return undefined;
      case 'closed':
        return new StorageError(
          StorageErrorCode.notOpen,
          `Cannot ${what} in "${this.#where()}": the store is closed`,
        );
      case 'failed':
        return new StorageError(
          state.error.code,
          `Cannot ${what} in "${this.#where()}": the store stopped after a failed write. Restart the node`,
          { cause: state.error },
        );
    }
  }
}
