/**
 * ShareQuorum: the unseal-progress state machine (Vault's `sys/unseal` progress, nonce and
 * reset), used for every operation that needs a quorum of shares: unseal, rekey, recovery
 * authorization and break-glass recovery.
 *
 *   idle ──first share──▶ collecting(n of T, nonce) ──T-th share──▶ verifying
 *     ▲                        │  reset / nonce change                 │
 *     └────────────────────────┴──────────── verified or failed ───────┘
 *
 * Shares are submitted one at a time. A malformed share, an exact repeat of a share already in
 * this attempt, a share naming another attempt's nonce, or any share while the limiter says wait,
 * is refused and not counted. When T shares are in, they are combined into a candidate key and
 * the `open` callback verifies it against stored data (for unseal: the candidate must decrypt the
 * stored root key). Whatever went wrong — a wrong share, two shares with one x coordinate, a
 * share of another cluster — the answer is one code and one message, and the attempt resets.
 *
 * Invariant: shares and candidates are zeroed as soon as they leave use: on reset, after
 * verification, and for every refused share.
 * Invariant: at most one submission runs at a time (they queue), so two concurrent T-th shares
 * cannot both verify.
 */
import { randomUUID } from 'node:crypto';

import { type SecretKey } from '../barrier/secret_key.ts';
import { CoreErrorCode } from '../errors.ts';
import type { AttemptLimiter } from './attempt_limiter.ts';
import { combineShares, shareSizeBytes, validateShareConfig, type ShareConfig } from './shamir.ts';
import { decodeShare } from './share_encoding.ts';

/** What a quorum authorizes; it only changes the wording of messages. */
export type QuorumKind = 'unseal' | 'rekey' | 'recovery' | 'break-glass';

/** Options for a {@link ShareQuorum}. */
export interface ShareQuorumOptions<T> {
  readonly kind: QuorumKind;
  /** The share config the shares were made with. */
  readonly config: ShareConfig;
  /** Shared per node, so switching quorum kinds does not reset the wait. */
  readonly limiter: AttemptLimiter;
  /**
   * Verifies a candidate key against stored data and builds the result, or returns undefined
   * when it does not verify. It must not keep `candidate`: the quorum zeroes it afterwards.
   * It throws only for operating failures (for example a malformed stored blob).
   */
  readonly open: (candidate: SecretKey) => Promise<T | undefined>;
  /** Bytes of the shared secret; 32 for every key here. */
  readonly secretSizeBytes?: number;
  /** Nonce source; tests inject a counter. */
  readonly newNonce?: () => string;
}

/** Where an attempt stands; safe to show unauthenticated (Vault's seal-status t, n, progress). */
export interface QuorumProgress {
  readonly kind: QuorumKind;
  readonly threshold: number;
  readonly shares: number;
  /** Shares counted in the current attempt. */
  readonly progress: number;
  /** The current attempt's id; undefined when no share is in. */
  readonly nonce: string | undefined;
}

/** Codes a submission can be refused with (all returned, STYLE.md 5.1). */
export type QuorumRefusalCode =
  | typeof CoreErrorCode.shareMalformed
  | typeof CoreErrorCode.shareDuplicate
  | typeof CoreErrorCode.unsealNonceMismatch
  | typeof CoreErrorCode.unsealRateLimited
  | typeof CoreErrorCode.unsealFailed;

/** The outcome of one submitted share. */
export type QuorumStep<T> =
  | { readonly ok: true; readonly done: false; readonly progress: QuorumProgress }
  | { readonly ok: true; readonly done: true; readonly value: T; readonly progress: QuorumProgress }
  | {
      readonly ok: false;
      readonly code: QuorumRefusalCode;
      readonly message: string;
      readonly progress: QuorumProgress;
      /** For COFFER_CORE_UNSEAL_RATE_LIMITED: when a share will be taken again. */
      readonly retryAfterMs?: number;
    };

/** Options for one submission. */
export interface SubmitOptions {
  /** The nonce the submitter believes is current; omitted for the first share. */
  readonly nonce?: string;
}

const failedAction: Readonly<Record<QuorumKind, string>> = {
  unseal: 'unseal',
  rekey: 'authorize the rekey',
  recovery: 'authorize with recovery shares',
  'break-glass': 'recover the root key with break-glass shares',
};

/** Collects shares towards a threshold and verifies their combination. */
export class ShareQuorum<T> {
  readonly #options: ShareQuorumOptions<T>;
  readonly #shareSizeBytes: number;
  readonly #newNonce: () => string;
  #shares: SecretKey[] = [];
  #nonce: string | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: ShareQuorumOptions<T>) {
    validateShareConfig(options.config);
    this.#options = options;
    this.#shareSizeBytes = shareSizeBytes(options.config, options.secretSizeBytes ?? 32);
    this.#newNonce = options.newNonce ?? randomUUID;
  }

  /** The current attempt. */
  progress(): QuorumProgress {
    return {
      kind: this.#options.kind,
      threshold: this.#options.config.threshold,
      shares: this.#options.config.shares,
      progress: this.#shares.length,
      nonce: this.#nonce,
    };
  }

  /** Drops the current attempt: every share is zeroed and the nonce forgotten. */
  reset(): void {
    for (const share of this.#shares) {
      share.zero();
    }
    this.#shares = [];
    this.#nonce = undefined;
  }

  /**
   * Submits one share, encoded (`coffer1:...`) or as bytes. A SecretKey argument stays the
   * caller's: the quorum keeps a copy.
   */
  submit(share: string | SecretKey, options: SubmitOptions = {}): Promise<QuorumStep<T>> {
    const run = this.#queue.then(() => this.#submitNow(share, options));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #refuse(code: QuorumRefusalCode, message: string, retryAfterMs?: number): QuorumStep<T> {
    const progress = this.progress();
    return retryAfterMs === undefined
      ? { ok: false, code, message, progress }
      : { ok: false, code, message, progress, retryAfterMs };
  }

  #decode(share: string | SecretKey): SecretKey | undefined {
    if (typeof share === 'string') {
      return decodeShare(share, this.#shareSizeBytes);
    }
    return share.sizeBytes === this.#shareSizeBytes ? share.clone() : undefined;
  }

  async #submitNow(share: string | SecretKey, options: SubmitOptions): Promise<QuorumStep<T>> {
    const check = this.#options.limiter.check();
    if (!check.ok) {
      const seconds = Math.ceil(check.retryAfterMs / 1000);
      return this.#refuse(
        CoreErrorCode.unsealRateLimited,
        `Wait ${seconds} s before submitting shares again: too many failed attempts`,
        check.retryAfterMs,
      );
    }
    if (options.nonce !== undefined && options.nonce !== this.#nonce) {
      return this.#refuse(
        CoreErrorCode.unsealNonceMismatch,
        'Resubmit the share with the current nonce: it names an attempt that was reset or completed',
      );
    }
    const decoded = this.#decode(share);
    if (decoded === undefined) {
      return this.#refuse(
        CoreErrorCode.shareMalformed,
        `Check the share for a copy error: it is not a well-formed share of ${this.#shareSizeBytes} bytes`,
      );
    }
    if (this.#shares.some((held) => held.equals(decoded))) {
      decoded.zero();
      return this.#refuse(
        CoreErrorCode.shareDuplicate,
        'Submit a different share: this one was already counted in the current attempt',
      );
    }
    this.#nonce ??= this.#newNonce();
    this.#shares.push(decoded);
    if (this.#shares.length < this.#options.config.threshold) {
      return { ok: true, done: false, progress: this.progress() };
    }
    return this.#complete();
  }

  async #complete(): Promise<QuorumStep<T>> {
    const shares = this.#shares;
    let value: T | undefined;
    try {
      const candidate = await combineShares(shares);
      try {
        value = candidate === undefined ? undefined : await this.#options.open(candidate);
      } finally {
        candidate?.zero();
      }
    } finally {
      this.reset();
    }
    if (value === undefined) {
      this.#options.limiter.recordFailure();
      return this.#refuse(
        CoreErrorCode.unsealFailed,
        `Cannot ${failedAction[this.#options.kind]}: the submitted shares do not open this ` +
          "cluster's key; the attempt was reset, start again",
      );
    }
    this.#options.limiter.recordSuccess();
    return { ok: true, done: true, value, progress: this.progress() };
  }
}
