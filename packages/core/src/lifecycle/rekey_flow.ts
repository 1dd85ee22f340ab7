/**
 * Rekey through a node: new shares and threshold for the unseal key (Shamir) or the recovery key
 * (HSM), authorized by a quorum of the current shares. The root key does not change, so nothing
 * under it is re-encrypted.
 *
 *   none ──start(next)──▶ running(nonce, n of t) ──T-th share verifies──▶ store ──▶ new shares
 *     ▲                       │ cancel()                                   │ (CAS on the versions
 *     └───────────────────────┘                                            │  read at start)
 *
 * Invariant: the new blob and record are stored (through Raft, check-and-set on the versions
 * read when the attempt started) before the new shares are returned, so a crash in between
 * leaves the old shares working; a concurrent rekey or migration makes the store fail instead
 * of overwriting it.
 */
import { randomUUID } from 'node:crypto';

import type { StateCondition, StateOperation } from '@coffer/storage';

import type { SecretKey } from '../barrier/secret_key.ts';
import type { RecoveryKeyResult } from '../seal/recovery_key.ts';
import type { RekeyResult } from '../seal/rekey.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { ShareConfig } from '../seal/shamir.ts';
import { encodeShare } from '../seal/share_encoding.ts';
import type {
  QuorumProgress,
  QuorumRefusalCode,
  QuorumStep,
  ShareQuorum,
} from '../seal/share_quorum.ts';
import { unsealProgressOf, type UnsealProgress } from './node_status.ts';

/** What a verified rekey quorum yields before it is stored: Shamir or recovery. */
export type NewShares = RekeyResult | RecoveryKeyResult;

/**
 * A quorum whose verified value has been turned into a function that prepares the writes (for
 * a seal migration that means wrapping the root key with the new seal, which is async).
 */
export interface RekeyQuorum {
  progress(): QuorumProgress;
  reset(): void;
  submit(share: string): Promise<QuorumStep<() => Promise<RekeyOutcome>>>;
}

/** Adapts a typed quorum and its preparation step to a {@link RekeyQuorum}. */
export function rekeyQuorumOf<T>(
  quorum: ShareQuorum<T>,
  prepare: (value: T) => Promise<RekeyOutcome>,
): RekeyQuorum {
  return {
    progress: () => quorum.progress(),
    reset: () => {
      quorum.reset();
    },
    submit: async (share) => {
      const step = await quorum.submit(share);
      return step.ok && step.done ? { ...step, value: () => prepare(step.value) } : step;
    },
  };
}

/** What a verified rekey quorum yields: new shares and the writes that make them valid. */
export interface RekeyOutcome {
  readonly shares: SecretKey[];
  /** Conditions (versions read at start) and puts of the new record and blob. */
  readonly conditions: readonly StateCondition[];
  readonly operations: readonly StateOperation[];
}

/** A running rekey, as shown to the share holders. Not secret. */
export interface RekeyProgress extends UnsealProgress {
  readonly attemptNonce: string;
  /** The config the new shares will have. */
  readonly next: ShareConfig;
}

/** The outcome of one share. */
export type RekeyStep =
  | { readonly ok: true; readonly done: false; readonly progress: RekeyProgress }
  | { readonly ok: true; readonly done: true; readonly shares: readonly string[] }
  | {
      readonly ok: false;
      readonly code: QuorumRefusalCode;
      readonly message: string;
      readonly progress: RekeyProgress;
      readonly retryAfterMs?: number;
    };

/** What a rekey flow needs from its node. */
export interface RekeyFlowOptions {
  /** What the flow does, for messages: "rekey" or "seal migration". */
  readonly what: string;
  /** Stores the writes through Raft (throws when the CAS fails). */
  readonly store: (outcome: RekeyOutcome) => Promise<void>;
}

interface Attempt {
  readonly nonce: string;
  readonly next: ShareConfig;
  readonly quorum: RekeyQuorum;
}

/** One node's rekey flow; at most one attempt at a time. */
export class RekeyFlow {
  readonly #options: RekeyFlowOptions;
  #attempt: Attempt | undefined;

  constructor(options: RekeyFlowOptions) {
    this.#options = options;
  }

  /** The running attempt, or undefined. */
  progress(): RekeyProgress | undefined {
    return this.#attempt === undefined ? undefined : this.#progressOf(this.#attempt);
  }

  #progressOf(attempt: Attempt): RekeyProgress {
    const progress = unsealProgressOf(attempt.quorum.progress());
    return { ...progress, attemptNonce: attempt.nonce, next: attempt.next };
  }

  /**
   * Starts an attempt towards `next` (the new shares' config) over `quorum`, a quorum of the
   * current shares built by the caller (seal_state.ts, seal_migration.ts).
   */
  start(next: ShareConfig, quorum: RekeyQuorum): RekeyProgress {
    if (this.#attempt !== undefined) {
      quorum.reset();
      throw new CoreError(
        CoreErrorCode.attemptInvalid,
        `Cancel the running ${this.#options.what} first: only one attempt runs at a time`,
      );
    }
    const attempt = { nonce: randomUUID(), next, quorum };
    this.#attempt = attempt;
    return this.#progressOf(attempt);
  }

  /** Drops the running attempt and its shares. */
  cancel(): void {
    this.#attempt?.quorum.reset();
    this.#attempt = undefined;
  }

  /** Submits one current share of the attempt named by `nonce`. */
  async submit(share: string, options: { readonly nonce: string }): Promise<RekeyStep> {
    const attempt = this.#attempt;
    if (attempt?.nonce !== options.nonce) {
      throw new CoreError(
        CoreErrorCode.attemptInvalid,
        `Start a ${this.#options.what}, or use the current attempt nonce: ` +
          (attempt === undefined ? 'none is running' : 'the nonce names another attempt'),
      );
    }
    const step = await attempt.quorum.submit(share);
    if (!step.ok) {
      const progress = this.#progressOf(attempt);
      const refusal = { ok: false as const, code: step.code, message: step.message, progress };
      return step.retryAfterMs === undefined
        ? refusal
        : { ...refusal, retryAfterMs: step.retryAfterMs };
    }
    if (!step.done) {
      return { ok: true, done: false, progress: this.#progressOf(attempt) };
    }
    this.#attempt = undefined;
    const outcome = await step.value();
    try {
      await this.#options.store(outcome);
      return { ok: true, done: true, shares: outcome.shares.map((s) => encodeShare(s)) };
    } finally {
      for (const s of outcome.shares) {
        s.zero();
      }
    }
  }
}
