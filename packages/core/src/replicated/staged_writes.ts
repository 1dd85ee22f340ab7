/**
 * StagedWrites: the writes of one request, held back while its handler runs and committed
 * afterwards as ONE transaction together with the request's outcome (request_outcomes.ts). That
 * is what makes a request retried after a failover apply exactly once: either the first attempt
 * committed everything, outcome included, and the retry finds the outcome; or it committed
 * nothing, and the retry runs afresh.
 *
 * While a request runs inside {@link StagedWrites.run}, SecureStore sends every write() here
 * instead of to Raft, and every local read sees the staged writes first (read your own writes).
 * A write's conditions are checked at once against what the request sees, so a handler learns
 * of a failed check-and-set exactly as before; conditions on keys the request did not write yet
 * are kept and checked again at commit, where a concurrent request that got there first makes
 * the commit fail (the router then runs the request again).
 *
 * A staged put has no Raft index yet: it reads back with a negative version, unique in this
 * process, so a cache keyed on versions never takes it for a committed one.
 *
 * Which request a write belongs to is carried by AsyncLocalStorage, so the token store, the
 * lease manager and every engine stage their writes without knowing about it. Work that outlives
 * the request (a timer it started) finds the set closed and writes through, as before.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

import type { DriverClock } from '@coffer/raft/node';
import type { StateCondition, StateOperation } from '@coffer/storage';

/** A staged change of one key: its final value (with its stand-in version), or its deletion. */
type StagedChange =
  | { readonly kind: 'put'; readonly value: Uint8Array; readonly version: number }
  | { readonly kind: 'delete' };

/** What a local read of a staged key answers. */
export type StagedRead =
  | { readonly staged: false }
  | { readonly staged: true; readonly value: Uint8Array; readonly version: number }
  | { readonly staged: true; readonly value: undefined; readonly version: undefined };

/** The outcome of staging a write: staged, or one of its conditions fails now. */
export type StageOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly key: string; readonly actualVersion: number | undefined };

/**
 * The most a request stages before its writes go through one by one: keys, and bytes of
 * plaintext. A request that large (a mount's data on disable, a long revocation cascade) is an
 * operator's, and gives up exactly-once rather than build one oversized Raft entry.
 */
export const stagedKeysMax = 256;
export const stagedBytesMax = 256 * 1024;

const scope = new AsyncLocalStorage<StagedWrites>();

/** Requests staging now (StagedWrites.run). */
let running = 0;

/** Stand-in versions of staged puts: negative, never reused in this process. */
let lastStagedVersion = 0;

/** The writes of one request, until it commits them. */
export class StagedWrites {
  /** The final change per key, in the order keys were first written. */
  readonly #changes = new Map<string, StagedChange>();
  /** Conditions on keys as they were before this request: checked again at commit. */
  readonly #conditions: StateCondition[] = [];
  #bytes = 0;
  #open = true;
  #wroteThrough = false;
  /** What runs once the staged writes are committed (SecureStore.afterCommit). */
  #afterCommit: (() => void)[] = [];

  /** The open set of the request running in this async context, if any. */
  static current(): StagedWrites | undefined {
    const staged = scope.getStore();
    return staged !== undefined && staged.#open ? staged : undefined;
  }

  /** Runs work outside any request: its writes go through at once. */
  static outside<T>(work: () => Promise<T>): Promise<T> {
    return scope.exit(work);
  }

  /**
   * Runs work with its writes staged here. NB: while no request stages, the scope is disabled,
   * so Node 20 runs no promise hook for it (they cost reads about a tenth of their CPU).
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    running += 1;
    try {
      return await scope.run(this, work);
    } finally {
      running -= 1;
      if (running === 0) {
        scope.disable();
      }
    }
  }

  /** Ends staging: later writes from this request's context go through at once. */
  close(): void {
    this.#open = false;
  }

  /**
   * Ends staging because the request outgrew it: the caller commits what was staged and writes
   * the rest through, so this request is not exactly-once (and records no outcome).
   */
  giveUp(): void {
    this.#open = false;
    this.#wroteThrough = true;
  }

  /** Whether the request outgrew staging and wrote through. */
  get wroteThrough(): boolean {
    return this.#wroteThrough;
  }

  /** Runs callback once this set is committed; never, when it is dropped. */
  afterCommit(callback: () => void): void {
    this.#afterCommit.push(callback);
  }

  /** The staged writes were committed: runs what waited for that. */
  committed(): void {
    const callbacks = this.#afterCommit;
    this.#afterCommit = [];
    for (const callback of callbacks) {
      callback();
    }
  }

  /** Whether nothing was staged. */
  get isEmpty(): boolean {
    return this.#changes.size === 0;
  }

  /** Whether a write of these operations still fits (else the caller flushes and writes through). */
  fits(operations: readonly StateOperation[]): boolean {
    let bytes = this.#bytes;
    let keys = this.#changes.size;
    for (const operation of operations) {
      bytes += operation.kind === 'put' ? operation.value.byteLength : 0;
      keys += this.#changes.has(operation.key) ? 0 : 1;
    }
    return keys <= stagedKeysMax && bytes <= stagedBytesMax;
  }

  /** What this request staged for key. */
  read(key: string): StagedRead {
    const change = this.#changes.get(key);
    if (change === undefined) {
      return { staged: false };
    }
    return change.kind === 'put'
      ? { staged: true, value: change.value, version: change.version }
      : { staged: true, value: undefined, version: undefined };
  }

  /**
   * Checks the conditions against what this request sees (baseVersion: the applied state) and,
   * when they hold, stages the operations. Puts hold plaintext until the commit encrypts them.
   */
  stage(
    batch: {
      readonly conditions: readonly StateCondition[];
      readonly operations: readonly StateOperation[];
    },
    baseVersion: (key: string) => number | undefined,
  ): StageOutcome {
    const kept: StateCondition[] = [];
    for (const condition of batch.conditions) {
      const read = this.read(condition.key);
      const actual = read.staged ? read.version : baseVersion(condition.key);
      const holds =
        condition.kind === 'absent' ? actual === undefined : actual === condition.version;
      if (!holds) {
        return { ok: false, key: condition.key, actualVersion: actual };
      }
      if (!read.staged) {
        kept.push(condition);
      }
    }
    this.#conditions.push(...kept);
    for (const operation of batch.operations) {
      const previous = this.#changes.get(operation.key);
      if (previous?.kind === 'put') {
        this.#bytes -= previous.value.byteLength;
      }
      // NB: delete and re-insert, so the commit writes keys in the order of their last change.
      this.#changes.delete(operation.key);
      if (operation.kind === 'put') {
        lastStagedVersion -= 1;
        this.#changes.set(operation.key, {
          kind: 'put',
          value: operation.value,
          version: lastStagedVersion,
        });
        this.#bytes += operation.value.byteLength;
      } else {
        this.#changes.set(operation.key, { kind: 'delete' });
      }
    }
    return { ok: true };
  }

  /** The staged keys under prefix after `after`, in key order, with whether each is a put. */
  keysUnder(prefix: string, after: string | undefined): { key: string; put: boolean }[] {
    const keys: { key: string; put: boolean }[] = [];
    for (const [key, change] of this.#changes) {
      if (key.startsWith(prefix) && (after === undefined || key > after)) {
        keys.push({ key, put: change.kind === 'put' });
      }
    }
    return keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** The transaction that commits this set: plaintext puts (the store encrypts them). */
  transaction(): {
    readonly conditions: readonly StateCondition[];
    readonly operations: readonly StateOperation[];
  } {
    const operations: StateOperation[] = [];
    for (const [key, change] of this.#changes) {
      operations.push(
        change.kind === 'put' ? { kind: 'put', key, value: change.value } : { kind: 'delete', key },
      );
    }
    return { conditions: [...this.#conditions], operations };
  }
}

/**
 * clock, with every timer callback run outside any request: a timer a request started (a lease
 * expiry it scheduled) fires on its own, and its writes are never staged into that request.
 */
export function outsideRequests(clock: DriverClock): DriverClock {
  return {
    nowMs: () => clock.nowMs(),
    setTimer: (delayMs, callback) =>
      clock.setTimer(delayMs, () => {
        scope.exit(callback);
      }),
  };
}
