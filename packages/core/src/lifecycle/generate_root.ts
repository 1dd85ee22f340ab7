/**
 * Generate-root: a new root token from a quorum of shares (unseal shares with a Shamir seal,
 * recovery shares with an HSM seal), delivered encrypted to a one-time key of the requester
 * (root_token_otp.ts), as Vault's sys/generate-root does.
 *
 *   none ──start(otp)──▶ running(nonce, n of t) ──T-th share verifies──▶ token issued ─▶ none
 *     ▲                        │ cancel()                  │ verification fails: attempt reset,
 *     └────────────────────────┘                           ▼ still running (shares again)
 *
 * The attempt has its own nonce, given at start; every share names it. A failed verification
 * answers COFFER_CORE_UNSEAL_FAILED with one fixed message whatever was wrong (wrong, repeated,
 * corrupted or foreign shares), counts against the node's attempt limiter, and keeps the attempt
 * (and its one-time key) so that the holders can try again.
 */
import { randomUUID } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../errors.ts';
import type { QuorumRefusalCode, ShareQuorum } from '../seal/share_quorum.ts';
import { unsealProgressOf, type UnsealProgress } from './node_status.ts';
import { encodeTokenForOtp, validateRootOtp } from './root_token_otp.ts';

/** A running attempt, as shown to the share holders. Not secret. */
export interface GenerateRootProgress extends UnsealProgress {
  /** The attempt's id; every share names it. */
  readonly attemptNonce: string;
}

/** The outcome of one share. */
export type GenerateRootStep =
  | { readonly ok: true; readonly done: false; readonly progress: GenerateRootProgress }
  | {
      readonly ok: true;
      readonly done: true;
      /** base64(token XOR otp): only the holder of the one-time key can read it. */
      readonly encodedToken: string;
    }
  | {
      readonly ok: false;
      readonly code: QuorumRefusalCode;
      readonly message: string;
      readonly progress: GenerateRootProgress;
      readonly retryAfterMs?: number;
    };

/** What a generate-root flow needs from its node. */
export interface GenerateRootOptions {
  /** A fresh quorum over the stored data of the cluster's seal. */
  readonly createQuorum: () => ShareQuorum<unknown>;
  /** Drops what a verified quorum yields (zeroes a key), before the token is issued. */
  readonly release: (value: unknown) => void;
  /** Writes a new root token and returns its id. */
  readonly issueToken: () => Promise<string>;
}

interface Attempt {
  readonly nonce: string;
  readonly otp: string;
  readonly quorum: ShareQuorum<unknown>;
}

const failedMessage =
  "Cannot generate a root token: the submitted shares do not open this cluster's key; " +
  'the shares of this attempt were dropped, submit them again';

/** One node's generate-root flow; at most one attempt at a time. */
export class GenerateRoot {
  readonly #options: GenerateRootOptions;
  #attempt: Attempt | undefined;

  constructor(options: GenerateRootOptions) {
    this.#options = options;
  }

  /** The running attempt, or undefined. */
  progress(): GenerateRootProgress | undefined {
    const attempt = this.#attempt;
    return attempt === undefined ? undefined : this.#progressOf(attempt);
  }

  #progressOf(attempt: Attempt): GenerateRootProgress {
    return { ...unsealProgressOf(attempt.quorum.progress()), attemptNonce: attempt.nonce };
  }

  /** Starts an attempt for the requester's one-time key. */
  start(otp: string): GenerateRootProgress {
    validateRootOtp(otp);
    if (this.#attempt !== undefined) {
      throw new CoreError(
        CoreErrorCode.attemptInvalid,
        'Cancel the running root token generation first: only one attempt runs at a time',
      );
    }
    const attempt = { nonce: randomUUID(), otp, quorum: this.#options.createQuorum() };
    this.#attempt = attempt;
    return this.#progressOf(attempt);
  }

  /** Drops the running attempt and every share it holds. */
  cancel(): void {
    this.#attempt?.quorum.reset();
    this.#attempt = undefined;
  }

  /** Submits one share of the attempt named by `nonce`. */
  async submit(share: string, options: { readonly nonce: string }): Promise<GenerateRootStep> {
    const attempt = this.#attempt;
    if (attempt?.nonce !== options.nonce) {
      throw new CoreError(
        CoreErrorCode.attemptInvalid,
        'Start a root token generation, or use the current attempt nonce: ' +
          (attempt === undefined ? 'none is running' : 'the nonce names another attempt'),
      );
    }
    const step = await attempt.quorum.submit(share);
    if (!step.ok) {
      const message = step.code === CoreErrorCode.unsealFailed ? failedMessage : step.message;
      const progress = this.#progressOf(attempt);
      const refusal = { ok: false as const, code: step.code, message, progress };
      return step.retryAfterMs === undefined
        ? refusal
        : { ...refusal, retryAfterMs: step.retryAfterMs };
    }
    if (!step.done) {
      return { ok: true, done: false, progress: this.#progressOf(attempt) };
    }
    this.#options.release(step.value);
    this.#attempt = undefined;
    const token = await this.#options.issueToken();
    return { ok: true, done: true, encodedToken: encodeTokenForOtp(token, attempt.otp) };
  }
}
