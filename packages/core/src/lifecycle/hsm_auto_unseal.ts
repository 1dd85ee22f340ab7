/**
 * Automatic unseal with an HSM seal: at start, and again after every failed attempt (with
 * backoff on the injected clock), connect to the token, unwrap the stored root key and unseal.
 *
 *   start ──▶ connect ──ready──▶ unwrap ──ok──▶ onRootKey(rootKey) ──▶ done (unsealed)
 *               │ unavailable      │ COFFER_CORE_SEAL_UNAVAILABLE (token left mid-call)
 *               ▼                  ▼
 *             wait (backoff: 500 ms, 1 s, ... 30 s, jittered) ──▶ connect again
 *
 * HSM trouble (library missing, token absent, wrong PIN, device error) is retried until the
 * operator fixes it; the node stays sealed and its status carries the seal's reason. Anything
 * else (a root key that does not authenticate, a corrupt record) stops the loop: retrying would
 * not help, and `failure()` reports the code.
 */
import type { SecretKey } from '../barrier/secret_key.ts';
import { CoreErrorCode } from '../errors.ts';
import { retryWithBackoff, type AttemptOutcome, type BackoffOptions } from '../seal/backoff.ts';
import type { Pkcs11Seal } from '../seal/pkcs11_seal.ts';
import type { SealBinding, SealLogger } from '../seal/seal_provider.ts';

/** Backoff settings an operator (or a test) may change; the clock comes from the node. */
export type AutoUnsealBackoff = Omit<BackoffOptions, 'clock' | 'signal' | 'attemptsMax'>;

/** What the loop needs. */
export interface HsmAutoUnsealOptions {
  readonly seal: Pkcs11Seal;
  readonly backoff: BackoffOptions;
  readonly logger: SealLogger;
  /** Reads the stored wrapped root key and binding (throws when the record is bad). */
  readonly stored: () => { readonly wrapped: Uint8Array; readonly binding: SealBinding };
  /** Takes ownership of the unwrapped root key and unseals the node with it. */
  readonly onRootKey: (rootKey: SecretKey) => Promise<void>;
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'unknown';
}

/** The retry loop of one node; stop it with `stop()`. */
export class HsmAutoUnseal {
  readonly #options: HsmAutoUnsealOptions;
  readonly #abort = new AbortController();
  #failure: string | undefined;
  #done: Promise<void> = Promise.resolve();

  constructor(options: HsmAutoUnsealOptions) {
    this.#options = options;
  }

  /** The code of the error that ended the loop, if one did. */
  failure(): string | undefined {
    return this.#failure;
  }

  /** Starts the loop; it ends when the node is unsealed, on `stop()` or on a lasting failure. */
  start(): void {
    const options = { ...this.#options.backoff, signal: this.#abort.signal };
    this.#done = retryWithBackoff(() => this.#attempt(), options).catch((error: unknown) => {
      if (this.#abort.signal.aborted) {
        return;
      }
      this.#failure = codeOf(error);
      this.#options.logger.warn('auto_unseal_stopped', { code: this.#failure });
    });
  }

  #stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  async #attempt(): Promise<AttemptOutcome<undefined>> {
    // NB: the stored record first: a seal type mismatch or a corrupt record ends the loop even
    // while the HSM is away, instead of retrying until it comes back.
    const { wrapped, binding } = this.#options.stored();
    const status = await this.#options.seal.connect();
    if (status.state !== 'ready' || this.#stopped()) {
      return { done: false };
    }
    let rootKey: SecretKey;
    try {
      rootKey = await this.#options.seal.unwrapRootKey(wrapped, binding);
    } catch (error) {
      if (codeOf(error) === CoreErrorCode.sealUnavailable) {
        return { done: false };
      }
      throw error;
    }
    // NB: stop() may have run while the token worked; a stopped loop unseals nothing.
    if (this.#stopped()) {
      rootKey.zero();
      return { done: false };
    }
    await this.#options.onRootKey(rootKey);
    this.#options.logger.info('auto_unsealed', { type: 'pkcs11' });
    return { done: true, value: undefined };
  }

  /**
   * Stops retrying without waiting; safe to call from `onRootKey` (which the loop awaits, so
   * waiting there would never end).
   */
  cancel(): void {
    this.#abort.abort();
  }

  /** Stops retrying and waits for the loop to end. Never call it from `onRootKey`. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }
}
